// A worker thread that answers numbered requests, as the SQLite writer and query threads do: started
// on the first request and again after it died (its requests in flight fail), holding the process
// open only while a request is in flight.
import { type Transferable, Worker } from 'node:worker_threads';

interface Pending<Response> {
  resolve(response: Response): void;
  reject(error: Error): void;
}

/** A running thread and the requests it has not answered yet (its own: a restarted thread has new ones). */
interface Running<Response> {
  worker: Worker;
  pending: Map<number, Pending<Response>>;
}

export class RequestThread<Request extends { id: number }, Response extends { id: number }> {
  private running: Running<Response> | null = null;
  private nextId = 1;

  /**
   * `name` is how errors call the thread ("the SQLite writer thread"); `options` go to the thread
   * beside the path, in its workerData.
   */
  constructor(
    private readonly module: URL,
    private readonly path: string,
    private readonly name: string,
    private readonly options: Record<string, unknown> = {},
  ) {}

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.running?.pending.size ?? 0;
  }

  request(body: Omit<Request, 'id'>, transfer: readonly Transferable[] = []): Promise<Response> {
    const { worker, pending } = this.running ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A request in flight keeps the process alive (a script or CLI command awaiting it); an idle
      // thread does not.
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...body, id }, transfer);
    });
  }

  /** Asks the thread to close its connection and exit, and waits until it has. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = null;
    if (!running) return;
    const exited = new Promise((resolve) => running.worker.once('exit', resolve));
    running.worker.ref();
    running.worker.postMessage('stop');
    await exited;
  }

  private start(): Running<Response> {
    const worker = new Worker(this.module, { workerData: { ...this.options, path: this.path } });
    const running: Running<Response> = { worker, pending: new Map() };
    const { pending } = running;
    worker.on('message', (response: Response) => {
      const waiting = pending.get(response.id);
      pending.delete(response.id);
      if (pending.size === 0) worker.unref();
      waiting?.resolve(response);
    });
    const fail = (error: Error) => {
      if (this.running === running) this.running = null;
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`${this.name} exited (code ${code})`)));
    worker.unref();
    this.running = running;
    return running;
  }
}
