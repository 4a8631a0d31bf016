export { createOpenAIProvider, type OpenAIProviderOptions } from "./create-openai-provider";
export {
  OpenAITokenRefresher,
  codexClientId,
  type OpenAITokenRefresherOptions,
} from "./openai-token-refresher";
export { createCodexResponseCollector } from "./codex-response-collector";
export { defaultOpenAIModels } from "./default-openai-models";
