/**
 * Test fixture, run as a child process: an app instance on the embedded database in <dataDir>,
 * talking to the kie-sim at <simUrl>, that starts one generation for <userId>, prints its task
 * id, then keeps polling it (each poll may settle it, which copies the result into the store).
 * The test kills it with SIGKILL in the middle of that copy.
 *   node --import tsx tests/helpers/copy-then-wait.ts <dataDir> <simUrl> <userId> <prompt>
 */
import { loadConfig } from "@/config";
import { createApp } from "@/lib/app";

const [dataDir, simUrl, userId, prompt] = process.argv.slice(2);
if (!dataDir || !simUrl || !userId || !prompt)
  throw new Error("usage: copy-then-wait.ts <dataDir> <simUrl> <userId> <prompt>");
const config = loadConfig({
  DATA_DIR: dataDir,
  KIE_BASE_URL: simUrl,
  KIE_UPLOAD_BASE_URL: simUrl,
  IMAGE_URL_SECRET: "copy-then-wait-fixture-secret-0123456789",
  LOG_LEVEL: "silent",
});
const app = await createApp(config, { simulatorOrigin: simUrl });
const created = await app.generations.create({
  userId,
  request: { prompt },
  files: [],
  mode: "async",
  requestId: "copy-then-wait",
});
process.stdout.write(`task ${created.job.taskId}\n`);
for (;;) {
  await app.generations.getForUser(userId, created.job.taskId);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
