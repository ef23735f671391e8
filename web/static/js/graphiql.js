// The GraphiQL page: asks for the key first, so the schema is fetched with it; sends it as a Bearer header
// over HTTP and in connection_init over the websocket. The key lives in sessionStorage (shared with the
// dashboard), in localStorage only when "Remember on this device" is ticked, and GraphiQL's own storage
// (tabs, query, headers) is this tab's sessionStorage too.
import { post, subscriptionObservable } from "./gql.js";

const KEY = "outbound.apiKey";
const form = document.getElementById("key-form");
const state = document.getElementById("key-state");
const forget = document.getElementById("key-forget");
let root = null;
let generation = 0;

const EXAMPLE = `# Outbound's GraphQL API. Ctrl-Enter runs the operation under the cursor.
query Campaigns {
  campaigns { nodes { id name status stats { allChannels { totalContacts contacted replied } } } }
}

# Paste a campaign id into Variables: {"id": "..."}
subscription Stats($id: ID!) {
  campaignStats(campaignId: $id) { version allChannels { replied } }
}
`;

function storedKey() {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

function isSubscription(query, operationName) {
  const source = query.replace(/#[^\n]*/g, "").replace(/"""[\s\S]*?"""|"(?:\\.|[^"\\])*"/g, '""');
  const operations = [...source.matchAll(/(?:^|})\s*(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g)];
  const chosen = operationName ? operations.find((m) => m[2] === operationName) : operations[0];
  return chosen?.[1] === "subscription";
}

function fetcherFor(key) {
  return (params, options = {}) => {
    const headers = { ...(options.headers ?? {}) };
    // a key typed in the headers pane wins over the one above
    const named = Object.keys(headers).find((h) => h.toLowerCase() === "authorization");
    const authorization = named ? headers[named] : `Bearer ${key}`;
    if (!named) headers.Authorization = authorization;
    if (isSubscription(params.query ?? "", params.operationName)) return subscriptionObservable(authorization, params);
    return post(params, headers).then((r) => r.body);
  };
}

const sessionStore = {
  // GraphiQL's Storage: this tab only, so a key pasted into the headers pane is not kept on the device
  getItem: (k) => sessionStorage.getItem(`graphiql:${k}`),
  setItem: (k, v) => sessionStorage.setItem(`graphiql:${k}`, v),
  removeItem: (k) => sessionStorage.removeItem(`graphiql:${k}`),
  clear: () => {
    for (const k of Object.keys(sessionStorage)) if (k.startsWith("graphiql:")) sessionStorage.removeItem(k);
  },
  get length() {
    return Object.keys(sessionStorage).filter((k) => k.startsWith("graphiql:")).length;
  },
};

async function render(key, remember = null) {
  const mine = ++generation;
  state.textContent = "Checking the key…";
  const check = await post({ query: "{ viewer { name } }" }, { Authorization: `Bearer ${key}` });
  if (mine !== generation) return;
  if (check.status === 401 || check.body.errors?.length) {
    state.textContent = "That key was not accepted.";
    return;
  }
  // kept only once accepted; on the device only when asked to
  sessionStorage.setItem(KEY, key);
  if (remember === true) localStorage.setItem(KEY, key);
  if (remember === false) localStorage.removeItem(KEY);
  state.textContent = `Workspace: ${check.body.data.viewer.name}`;
  forget.hidden = false;
  const container = document.getElementById("graphiql");
  root ??= ReactDOM.createRoot(container);
  // a new React key per API key: GraphiQL mounts afresh and fetches the schema with the new key
  root.render(React.createElement(GraphiQL, {
    key: String(mine),
    fetcher: fetcherFor(key),
    storage: sessionStore,
    defaultQuery: EXAMPLE,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: true,
  }));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = form.apiKey.value.trim();
  if (!key) return;
  form.apiKey.value = "";
  render(key, form.remember.checked);
});

forget.addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  generation++;
  root?.unmount();
  root = null;
  document.getElementById("graphiql").innerHTML = '<p class="waiting">Paste an API key above: GraphiQL loads the schema with it.</p>';
  state.textContent = "";
  forget.hidden = true;
  form.apiKey.focus();
});

const key = storedKey();
if (key) render(key);
else form.apiKey.focus();
