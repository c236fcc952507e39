export { JobInDoubtError, JobNotSucceededError, JobUnansweredError } from "./errors";
export { JobEvents } from "./events";
export type { ImageProvider, ProviderTask, ProviderTaskState } from "./provider";
export {
  type AnyCreateResult,
  type BatchGenerationResult,
  type CallbackInput,
  type CallbackVerdict,
  type CreateGenerationInput,
  type CreateGenerationResult,
  GenerationService,
  type GenerationServiceDeps,
  type GenerationSettings,
  type LocalImageFile,
} from "./service";
export { type JobView, publicTaskId, toJobView } from "./view";
