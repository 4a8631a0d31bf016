import { describe, expect, it } from "vitest";
import { parseOpenAIDuration } from "./parse-openai-duration";

describe("parseOpenAIDuration", () => {
  it.each([
    ["20ms", 20],
    ["1s", 1_000],
    ["2.092s", 2_092],
    ["6m0s", 360_000],
    ["1h2m3.5s", 3_723_500],
    ["17", 17_000],
  ])("%s -> %d ms", (value, expected) => {
    expect(parseOpenAIDuration(value)).toBe(expected);
  });

  it.each([undefined, "", "soon", "5d", "-1s", "1s garbage"])("rejects %j", (value) => {
    expect(parseOpenAIDuration(value)).toBeUndefined();
  });
});
