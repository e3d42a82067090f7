// The image operations the engine API serves (implemented by agent/engine/image's ImageStore).
export interface ImageRow {
  id: string;
  references: string[];
  createdUnix: number;
  size: number;
}

export interface ImagesPort {
  pull(ref: string, onProgress: (p: { status: string; id?: string; current?: number; total?: number }) => void): Promise<void>;
  importRootfs(tarPath: string, reference: string): Promise<ImageRow>;
  load(tarPath: string): Promise<string[]>;
  list(): Promise<ImageRow[]>;
  inspect(ref: string): Promise<object>;
  remove(ref: string, force: boolean): Promise<{ untagged: string[]; deleted: string[] }>;
}
