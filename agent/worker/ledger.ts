// Which engine containers belong to which swarm tasks, kept on disk so a restarted daemon knows
// its tasks' containers (and never mistakes a user's own container for one of them).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../engine/store/atomic.js";

export class TaskLedger {
  private readonly file: string;
  private readonly byTask = new Map<string, string>();

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, "tasks.json");
    if (existsSync(this.file)) {
      const rows = JSON.parse(readFileSync(this.file, "utf8")) as Record<string, string>;
      for (const [task, container] of Object.entries(rows)) this.byTask.set(task, container);
    }
  }

  container(taskId: string): string | undefined {
    return this.byTask.get(taskId);
  }

  entries(): [taskId: string, containerId: string][] {
    return [...this.byTask];
  }

  set(taskId: string, containerId: string): void {
    this.byTask.set(taskId, containerId);
    this.save();
  }

  delete(taskId: string): void {
    if (this.byTask.delete(taskId)) this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.byTask)));
  }
}
