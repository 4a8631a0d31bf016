import { describe, expect, it } from "vitest";
import { formatBucket, parseBucket } from "./bucket";

describe("formatBucket / parseBucket", () => {
  it.each([
    [{ groupId: 7, platform: "claude", mode: "single" }, "7:claude:single"],
    [{ groupId: 0, platform: "openai", mode: "mixed" }, "0:openai:mixed"],
    [{ groupId: 123456, platform: "gemini", mode: "single" }, "123456:gemini:single"],
  ] as const)("round-trips %o as %s", (bucket, raw) => {
    expect(formatBucket(bucket)).toBe(raw);
    expect(parseBucket(raw)).toEqual(bucket);
  });

  it.each([
    ["1:claude", "too few parts"],
    ["x:claude:single", "non-integer group id"],
    ["-1:claude:single", "negative group id"],
    ["1::single", "empty platform"],
    ["1:claude:weird", "unknown mode"],
    ["1:claude:forced", "removed mode"],
    ["1:claude:single:extra", "too many parts"],
    ["", "empty string"],
    ["1.5:claude:single", "fractional group id"],
    ["01:claude:single", "leading zero"],
    [" 1:claude:single", "whitespace"],
    ["1e3:claude:single", "exponent"],
    ["99999999999999999999:claude:single", "beyond safe integers"],
    ["1:cl{au}de:single", "braces would break the hash tag"],
    ["1:claude:SINGLE", "mode is case-sensitive"],
  ])("rejects %j (%s)", (raw) => {
    expect(parseBucket(raw)).toBeNull();
  });
});
