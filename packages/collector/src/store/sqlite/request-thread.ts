// A worker thread that answers numbered requests, as the SQLite writer and query threads do: started
// on the first request and again after it died (its requests in flight fail), holding the process
// open only while a request is in flight.
import { type Transferable, Worker } from 'node:worker_threads';

interface Pending<Response> {
  resolve(response: Response): void;
  reject(error: Error): void;
}

export class RequestThread<Request extends { id: number }, Response extends { id: number }> {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending<Response>>();
  private nextId = 1;

  /** `name` is how errors call the thread ("the SQLite writer thread"). */
  constructor(
    private readonly module: URL,
    private readonly path: string,
    private readonly name: string,
  ) {}

  request(body: Omit<Request, 'id'>, transfer: readonly Transferable[] = []): Promise<Response> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A request in flight keeps the process alive (a script or CLI command awaiting it); an idle
      // thread does not.
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...body, id }, transfer);
    });
  }

  /** Asks the thread to close its connection and exit, and waits until it has. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('stop');
    await exited;
  }

  private start(): Worker {
    const worker = new Worker(this.module, { workerData: { path: this.path } });
    worker.on('message', (response: Response) => {
      const pending = this.pending.get(response.id);
      this.pending.delete(response.id);
      if (this.pending.size === 0) worker.unref();
      pending?.resolve(response);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${this.name} exited (code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
