// PostGraphile 5 targets Node 22; on Node 20 it needs Promise.withResolvers (ES2024). Loaded with `node -r`.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
