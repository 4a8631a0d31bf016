export { Group } from "./group";
export type { GroupDoOptions, GroupFunction, GroupResult } from "./group";
