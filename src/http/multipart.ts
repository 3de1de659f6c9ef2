import { GraphQLError } from "graphql";

const badRequest = (message: string, status: number) =>
  new GraphQLError(message, { extensions: { code: "BAD_REQUEST", http: { status } } });

export interface MultipartLimits {
  /** The largest file, in bytes, and how many files a request may carry. */
  maxFileBytes: number;
  maxFiles: number;
}

/** The multipart limits for @whatwg-node's busboy, which applies them as the body streams in. */
export const formDataLimits = ({ maxFileBytes, maxFiles }: MultipartLimits, fieldBytes: number) => ({
  fileSize: maxFileBytes,
  files: maxFiles,
  // `operations` and `map`, each at most a JSON body's size.
  fields: 2,
  fieldSize: fieldBytes,
  fieldNameSize: 100,
});

const PATH = /^variables(\.[A-Za-z_][A-Za-z0-9_]*|\.\d+)+$/;

/**
 * A GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec), checked
 * strictly: `operations` one operation, `map` an object naming every file part once, each path
 * inside the variables. Every breakage is the client's: BAD_REQUEST with what is wrong.
 */
export async function parseMultipart(request: Request, limits: MultipartLimits) {
  let form: FormData;
  try {
    form = await request.formData();
  } catch (error) {
    const message = (error as Error).message;
    if (/^File size limit exceeded/.test(message)) throw badRequest(`A file is larger than the ${limits.maxFileBytes} bytes allowed.`, 413);
    if (/^Files limit exceeded/.test(message)) throw badRequest(`A request may carry at most ${limits.maxFiles} files.`, 413);
    throw badRequest(`The multipart body is malformed (${message}).`, 400);
  }
  const json = (name: string) => {
    const value = form.get(name);
    if (typeof value !== "string") throw badRequest(`The multipart request needs a "${name}" field before its files.`, 400);
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw badRequest(`The multipart "${name}" field is not valid JSON.`, 400);
    }
  };
  const operations = json("operations");
  if (operations === null || typeof operations !== "object" || Array.isArray(operations)) {
    throw badRequest('The multipart "operations" field must be one operation (a JSON object).', 400);
  }
  const map = json("map");
  if (map === null || typeof map !== "object" || Array.isArray(map)) throw badRequest('The multipart "map" field must be a JSON object of file fields to variable paths.', 400);
  const files = new Set<string>();
  form.forEach((value, name) => {
    if (typeof value !== "string") files.add(name);
  });
  for (const [name, paths] of Object.entries(map)) {
    const file = form.get(name);
    if (!file || typeof file === "string") throw badRequest(`The multipart "map" names "${name}", which is not a file of the request.`, 400);
    // One file may fill several variables (apollo-upload-client sends a File used twice once).
    if (!Array.isArray(paths) || paths.length === 0 || paths.some((path) => typeof path !== "string" || !PATH.test(path))) {
      throw badRequest(`The multipart "map" must give file "${name}" a list of variable paths, such as ["variables.input.file"].`, 400);
    }
    for (const path of paths as string[]) place(operations as Record<string, unknown>, path, file);
    files.delete(name);
  }
  if (files.size > 0) throw badRequest(`The multipart "map" does not say where file "${[...files][0]}" goes.`, 400);
  return operations as Record<string, unknown>;
}

/** Puts the file where the path points, in place of the null the client left there. */
function place(operations: Record<string, unknown>, path: string, file: File) {
  const keys = path.split(".");
  let node: unknown = operations;
  for (const key of keys.slice(0, -1)) {
    node = node !== null && typeof node === "object" && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    if (node === null || typeof node !== "object") throw badRequest(`The multipart "map" path ${path} does not lead to a variable of the operation.`, 400);
  }
  const last = keys.at(-1)!;
  if (!Object.hasOwn(node as object, last) || (node as Record<string, unknown>)[last] !== null) {
    throw badRequest(`The multipart "map" path ${path} must point at a null the operation leaves for the file.`, 400);
  }
  (node as Record<string, unknown>)[last] = file;
}
