/**
 * The KIE client (kie-api.md): task creation, status reads and uploads. Each method describes its
 * call (endpoint, body, how to read the answer); KieTransport (transport.ts) sends it over one
 * keep-alive pool per client, decodes KIE's envelope and retries what may be retried.
 */
import { type CreateTaskInput, createTaskDataSchema, toCreateTaskBody } from "./createTask";
import { isRecordNotYetWritten, type TaskRecord, toTaskRecord } from "./dto";
import { KieTransport, type KieTransportOptions } from "./transport";
import type { KieCallOptions } from "./types";
import {
  type UploadedFile,
  type UploadFileInput,
  type UploadOptions,
  type UploadSettings,
  uploadCall,
} from "./uploads";

export interface GenerateImageOptions extends KieCallOptions {
  /** Where KIE posts the result; omitted → poll only. */
  callBackUrl?: string;
}

export interface GenerateImageResult {
  taskId: string;
  /** The model actually used (e.g. the edit pair of a text-only model given images). */
  model: string;
  /** Things the caller should know, e.g. that randomSeed was not sent. */
  warnings: string[];
}

export interface IKieClient {
  /** createTask. Never retried blindly: see isAmbiguousCreateFailure for what a failure means. */
  generateImage(input: CreateTaskInput, opts: GenerateImageOptions): Promise<GenerateImageResult>;
  /** recordInfo. A task whose record KIE has not written yet comes back as state "pending". */
  getTaskStatus(taskId: string, opts: KieCallOptions): Promise<TaskRecord>;
  uploadFile(file: UploadFileInput, opts: UploadOptions): Promise<UploadedFile>;
}

export interface KieClientOptions extends KieTransportOptions {
  /** e.g. https://api.kie.ai */
  baseUrl: string;
  /** e.g. https://kieai.redpandaai.co */
  uploadBaseUrl: string;
  /** Model for requests without images and without a model (config KIE_MODEL). */
  textModel?: string;
  /** Model for requests with images and without a model (config KIE_EDIT_MODEL). */
  editModel?: string;
  /** KIE_NSFW_CHECKER: `nsfw_checker` for the models that document it. Default false. */
  nsfwChecker?: boolean;
  /** Uint8Array files up to this size go through the base64 endpoint. Default 1 MiB. */
  base64UploadMaxBytes?: number;
  /** Default `uploadPath`. Default "images/user-uploads". */
  defaultUploadPath?: string;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

export class KieClient implements IKieClient {
  readonly #transport: KieTransport;
  /** Blanked out of KIE's failure messages. */
  readonly #secrets: readonly string[];
  readonly #baseUrl: string;
  readonly #textModel: string;
  readonly #editModel: string;
  readonly #nsfwChecker: boolean;
  readonly #uploads: UploadSettings;
  readonly #logger: KieClientOptions["logger"];

  constructor(options: KieClientOptions) {
    if (!options.apiKey) throw new Error("KieClient: apiKey is required");
    if (!options.baseUrl || !options.uploadBaseUrl)
      throw new Error("KieClient: baseUrl and uploadBaseUrl are required");
    this.#transport = new KieTransport(options);
    this.#secrets = [options.apiKey];
    this.#baseUrl = trimSlash(options.baseUrl);
    this.#textModel = options.textModel ?? "google/nano-banana";
    this.#editModel = options.editModel ?? "google/nano-banana-edit";
    this.#nsfwChecker = options.nsfwChecker ?? false;
    this.#uploads = {
      uploadBaseUrl: trimSlash(options.uploadBaseUrl),
      base64UploadMaxBytes: options.base64UploadMaxBytes ?? 1024 * 1024,
      defaultUploadPath: options.defaultUploadPath ?? "images/user-uploads",
    };
    this.#logger = options.logger;
  }

  /** Closes the connection pool this client created (an injected dispatcher is left alone). */
  close(): Promise<void> {
    return this.#transport.close();
  }

  async generateImage(input: CreateTaskInput, opts: GenerateImageOptions): Promise<GenerateImageResult> {
    const { body, model, warnings } = toCreateTaskBody(input, {
      textModel: this.#textModel,
      editModel: this.#editModel,
      callBackUrl: opts.callBackUrl,
      nsfwChecker: this.#nsfwChecker,
    });
    const taskId = await this.#transport.call({
      endpoint: "createTask",
      method: "POST",
      url: `${this.#baseUrl}/api/v1/jobs/createTask`,
      body: () => ({ body: JSON.stringify(body), contentType: "application/json" }),
      idempotent: false,
      opts,
      parse: (envelope) => createTaskDataSchema.parse(envelope.data).taskId,
    });
    this.#logger?.info({ requestId: opts.requestId, taskId, model }, "kie task created");
    return { taskId, model, warnings };
  }

  getTaskStatus(taskId: string, opts: KieCallOptions): Promise<TaskRecord> {
    const secrets = this.#secrets;
    return this.#transport.call({
      endpoint: "recordInfo",
      method: "GET",
      url: `${this.#baseUrl}/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(taskId)}`,
      idempotent: true,
      opts,
      taskId,
      parse: (envelope) => {
        if (envelope.data === null || typeof envelope.data !== "object") {
          throw new Error("recordInfo answered code 200 without a record");
        }
        return toTaskRecord(envelope.data, { taskId, secrets });
      },
      rescue: (envelope) => {
        if (isRecordNotYetWritten(envelope)) return { taskId, state: "pending", resultUrls: [] };
        // A 501 that carries the task's record is a failed task, reported as data like the others.
        if (envelope?.code === 501 && envelope.data !== null && typeof envelope.data === "object") {
          const record = toTaskRecord(envelope.data, { taskId, secrets });
          return record.state === "unknown" ? { ...record, state: "fail" } : record;
        }
        return undefined;
      },
    });
  }

  async uploadFile(file: UploadFileInput, opts: UploadOptions): Promise<UploadedFile> {
    return this.#transport.call(uploadCall(file, opts, this.#uploads));
  }
}
