export {
  FakeUpstream,
  type BodyReply,
  type DropReply,
  type HangReply,
  type RecordedRequest,
  type Reply,
  type ReplyHandler,
  type SseReply,
} from "./fake-upstream";
export { readFixture } from "./read-fixture";
export { sseEvents } from "./sse-events";
export {
  describeProviderContract,
  type ContractTestApi,
  type ProviderContractCase,
  type ProviderContractOptions,
} from "./provider.contract";
