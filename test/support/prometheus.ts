/**
 * A strict reader of Prometheus' text exposition format (0.0.4): every line is a HELP, a TYPE or a
 * sample; every sample belongs to a family declared by a TYPE line before it (histograms by their
 * _bucket, _sum and _count); names and label names are valid, label values properly escaped, values
 * numbers; a histogram's buckets are cumulative and end with le="+Inf", equal to its _count. Throws
 * on the first line that breaks a rule, naming it.
 */
export interface Exposition {
  types: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
  /** The value of the one sample with this name whose labels include `labels`, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`. */
  all(name: string): { labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`not a number in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`label without a value in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape in: ${line}`);
      } else if (text[j] === "\n") {
        throw new Error(`raw newline in a label value: ${line}`);
      } else {
        value += text[j];
      }
    }
    if (text[j] !== '"') throw new Error(`unterminated label value in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ",") throw new Error(`expected a comma in: ${line}`);
      i++;
    }
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Exposition["samples"] = [];
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) throw new Error(`bad comment line: ${line}`);
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`unknown type in: ${line}`);
        if (types.has(name)) throw new Error(`${name} typed twice`);
        types.set(name, rest);
      }
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!match) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    const type = types.get(family);
    if (!type) throw new Error(`sample of an undeclared family: ${line}`);
    if (family !== name && type !== "histogram" && type !== "summary") throw new Error(`${name} is not a sample of the ${type} ${family}`);
    samples.push({ name, labels: labelText ? parseLabels(labelText, line) : {}, value: parseValue(valueText, line) });
  }
  checkHistograms(types, samples);
  const matches = (labels: Record<string, string>, wanted: Record<string, string>) => Object.entries(wanted).every(([k, v]) => labels[k] === v);
  return {
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && matches(s.labels, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
    all: (name) => samples.filter((s) => s.name === name),
  };
}

function checkHistograms(types: Map<string, string>, samples: Exposition["samples"]) {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, { le: number; value: number }[]>();
    const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
    for (const sample of samples) {
      if (sample.name !== `${family}_bucket`) continue;
      if (sample.labels.le === undefined) throw new Error(`${family}_bucket without le`);
      const list = series.get(key(sample.labels)) ?? [];
      list.push({ le: parseValue(sample.labels.le, sample.labels.le), value: sample.value });
      series.set(key(sample.labels), list);
    }
    for (const [labels, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) {
        if (!(buckets[i]!.le > buckets[i - 1]!.le) || buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family}${labels}: buckets not cumulative`);
      }
      const last = buckets.at(-1)!;
      if (last.le !== Number.POSITIVE_INFINITY) throw new Error(`${family}${labels}: no +Inf bucket`);
      const count = samples.find((s) => s.name === `${family}_count` && key(s.labels) === labels);
      if (count?.value !== last.value) throw new Error(`${family}${labels}: _count ${count?.value} is not the +Inf bucket ${last.value}`);
    }
  }
}
