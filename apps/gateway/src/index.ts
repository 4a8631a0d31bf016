export { buildApp, type AppDependencies } from "./app";
export { ConfigError, loadConfig, parseDuration, type GatewayConfig, type PlatformEndpoints } from "@subrelay/refresh-worker";
export { createGateway, type Gateway, type GatewayOverrides } from "./gateway";
export { GatewayError, errorBody, errorEvent, type GatewayErrorKind } from "./dialect-error";
