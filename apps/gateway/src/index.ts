export { buildApp, type AppDependencies } from "./app";
export { ConfigError, loadConfig, parseDuration, type GatewayConfig, type PlatformEndpoints } from "@subrelay/runtime";
export { dialects, type ClientDialect, type DialectRoute } from "./dialects";
export { createGateway, type Gateway, type GatewayOverrides } from "./gateway";
export { GatewayError, codeOfStatus, type GatewayErrorCode } from "./gateway-error";
