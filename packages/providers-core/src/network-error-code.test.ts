import { describe, expect, it } from "vitest";
import { networkErrorCode } from "./network-error-code";

describe("networkErrorCode", () => {
  it("names an error by its code, else by its class name", () => {
    expect(networkErrorCode(Object.assign(new Error("connect refused"), { code: "ECONNREFUSED" }))).toBe("ECONNREFUSED");
    expect(networkErrorCode(new TypeError("fetch failed"))).toBe("TypeError");
  });

  it("returns nothing for values that are not errors or whose fields could carry request text", () => {
    expect(networkErrorCode("weird")).toBeUndefined();
    expect(networkErrorCode(null)).toBeUndefined();
    expect(networkErrorCode({ code: "POST /v1/messages Bearer sk-secret", name: "x y" })).toBeUndefined();
  });
});
