import { hint } from "./didYouMean.js";

/** A value as an error message shows it: its type and, for plain values, the value. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${value.toString()}`;
    case "undefined":
      return "undefined";
    case "object":
      if (value === null) return "null";
      return Array.isArray(value) ? `an array of ${value.length}` : "an object";
    default:
      return `a ${typeof value}`;
  }
}

export function asRecord(value: unknown, option: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`\`${option}\` must be an object; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function rejectUnknown(
  record: Record<string, unknown>,
  known: readonly string[],
  path: string,
): void {
  // for…in, not Object.keys: no array per call (cache calls check their options every time).
  for (const key in record) {
    if (Object.hasOwn(record, key) && !known.includes(key)) {
      throw new TypeError(`\`${path}${key}\` is not a known option.${hint(key, known)}`);
    }
  }
}

export function positiveInteger(
  value: unknown,
  option: string,
  unit: string,
): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(
      `\`${option}\` must be a positive whole number of ${unit}; got ${describe(value)}`,
    );
  }
}

export function nonNegativeInteger(
  value: unknown,
  option: string,
  unit: string,
): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `\`${option}\` must be a whole number of ${unit}, 0 or more; got ${describe(value)}`,
    );
  }
}

export function boolean(value: unknown, option: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`\`${option}\` must be true or false; got ${describe(value)}`);
  }
  return value;
}

export function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`\`${option}\` must be a non-empty string; got ${describe(value)}`);
  }
  return value;
}

export function checkPort(port: unknown, option: string): asserts port is number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`\`${option}\` must be a port number 1-65535; got ${describe(port)}`);
  }
}
