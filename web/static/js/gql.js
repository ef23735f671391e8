// GraphQL over HTTP, and graphql-transport-ws over a websocket: the two ways the dashboard and the GraphiQL
// page talk to the API. No library: the protocols are small, and the pages must work without a CDN.

export const HTTP_URL = new URL("/graphql", location.href).toString();
export const WS_URL = HTTP_URL.replace(/^http/, "ws");

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, errors = [] } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}

/** POSTs one operation; returns the whole response body ({data, errors}) as GraphiQL wants it. */
export async function post(body, headers = {}) {
  const response = await fetch(HTTP_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(body),
  });
  try {
    return { status: response.status, body: await response.json() };
  } catch {
    return { status: response.status, body: { errors: [{ message: `HTTP ${response.status}` }] } };
  }
}

/** A client bound to a key: `await client(query, variables)` is the data, or throws ApiError. */
export function httpClient(getKey) {
  return async function request(query, variables = {}) {
    const { status, body } = await post({ query, variables }, { Authorization: `Bearer ${getKey()}` });
    if (body.errors?.length) {
      const code = body.errors[0].extensions?.code ?? (status === 401 ? "UNAUTHENTICATED" : null);
      throw new ApiError(body.errors.map((e) => e.message).join("; "), { status, code, errors: body.errors });
    }
    return body.data;
  };
}

/**
 * One graphql-transport-ws connection shared by all of a page's subscriptions. It reconnects after a drop
 * (a server restart) with a growing pause, subscribes everything again, and tells each subscriber, so that
 * what a push-only stream (the activity feed) missed meanwhile can be read again.
 */
export class LiveSocket {
  constructor(getKey, { onStatus = () => {} } = {}) {
    this.getKey = getKey;
    this.onStatus = onStatus;
    this.subs = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.acked = false;
    this.closed = false;
    this.connectedOnce = false;
    this.open();
  }

  open() {
    const ws = new WebSocket(WS_URL, "graphql-transport-ws");
    this.ws = ws;
    ws.onopen = () => this.send({ type: "connection_init", payload: { Authorization: `Bearer ${this.getKey()}` } });
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.acked = false;
      if (this.closed) return;
      if (event.code === 4403 || event.code === 4401) {
        this.onStatus("refused");
        return; // a wrong key does not get better by retrying
      }
      this.onStatus("reconnecting");
      const pause = Math.min(5000, 250 * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.open(), pause);
    };
  }

  receive(message) {
    if (message.type === "connection_ack") {
      const again = this.connectedOnce;
      this.acked = true;
      this.connectedOnce = true;
      this.attempt = 0;
      this.onStatus("live");
      for (const [id, sub] of this.subs) {
        this.send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
        if (again) sub.reconnected?.();
      }
    } else if (message.type === "ping") {
      this.send({ type: "pong" });
    } else if (message.type === "next") {
      const sub = this.subs.get(message.id);
      if (!sub) return;
      if (message.payload.errors?.length) sub.error?.(message.payload.errors);
      else sub.next(message.payload.data);
    } else if (message.type === "error") {
      this.subs.get(message.id)?.error?.(message.payload);
    } else if (message.type === "complete") {
      this.subs.get(message.id)?.complete?.();
      this.subs.delete(message.id);
    }
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Returns a function that ends the subscription. */
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    this.subs.set(id, { query, variables, ...handlers });
    if (this.acked) this.send({ id, type: "subscribe", payload: { query, variables } });
    return () => {
      if (this.subs.delete(id) && this.acked) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws.close();
  }
}

/**
 * One subscription on its own connection, authenticated with `authorization` in connection_init, as an
 * Observable ({subscribe(observer) -> {unsubscribe}}): the shape GraphiQL's fetcher may return.
 */
export function subscriptionObservable(authorization, payload) {
  return {
    subscribe(observer) {
      const ws = new WebSocket(WS_URL, "graphql-transport-ws");
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        fn?.(value);
        if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: authorization } }));
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "connection_ack") ws.send(JSON.stringify({ id: "1", type: "subscribe", payload }));
        else if (message.type === "ping") ws.send(JSON.stringify({ type: "pong" }));
        else if (message.type === "next") observer.next?.(message.payload);
        else if (message.type === "error") finish(observer.error, { errors: message.payload });
        else if (message.type === "complete") finish(observer.complete);
      };
      ws.onclose = (event) => {
        if (!done) finish(observer.error, new Error(`The websocket closed (${event.code} ${event.reason || ""})`.trim()));
      };
      return { unsubscribe: () => finish(null) };
    },
  };
}
