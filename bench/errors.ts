/** A reason to stop the benchmark that the message explains in full: printed without a stack trace. */
export class BenchStop extends Error {
  override name = "BenchStop";
}
