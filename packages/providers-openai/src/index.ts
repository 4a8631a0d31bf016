export { createOpenAIProvider, type OpenAIProviderOptions } from "./openai-provider";
export {
  OpenAITokenRefresher,
  codexClientId,
  type OpenAITokenRefresherOptions,
} from "./openai-token-refresher";
export { createCodexResponseCollector } from "./codex-response-collector";
export { chatToResponsesBody } from "./chat-to-responses";
export { createResponsesToChatShaper, responseToChatCompletion } from "./responses-to-chat";
export { defaultOpenAIModels, openaiModelAliases } from "./openai-models";
export { openaiPrices } from "./openai-prices";
export { codexExhaustedWindow } from "./classify-openai-response";
