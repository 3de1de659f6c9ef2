import { builder } from "../builder.js";
import { AuthenticationError, DOMAIN_ERROR_CODES, DomainError, type FieldError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";

const ErrorCode = builder.enumType("ErrorCode", { values: DOMAIN_ERROR_CODES });

export const ErrorInterface = builder.interfaceRef<DomainError>("Error").implement({
  description: "An expected failure of a mutation, returned as a typed result.",
  fields: (t) => ({
    message: t.exposeString("message"),
    code: t.field({ type: ErrorCode, resolve: (error) => error.code }),
  }),
});

const FieldErrorRef = builder.objectRef<FieldError>("FieldError").implement({
  description: "One invalid input field.",
  fields: (t) => ({
    field: t.exposeString("field", { description: 'The input field, e.g. "handle".' }),
    message: t.exposeString("message"),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  description: "The input was rejected; `fieldErrors` says which fields and why.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ fieldErrors: t.field({ type: [FieldErrorRef], resolve: (error) => error.fieldErrors }) }),
});

for (const [ErrorClass, description] of [
  [NotFoundError, "The thing the input points at does not exist."],
  [ForbiddenError, "The viewer may not do this to this thing."],
  [AuthenticationError, "The credentials were not accepted."],
] as const) {
  builder.objectType(ErrorClass, {
    name: ErrorClass.name,
    description,
    interfaces: [ErrorInterface],
    isTypeOf: (value) => value instanceof ErrorClass,
    fields: () => ({}),
  });
}
