// The dashboard's shell: sign-in, the campaigns list, the campaign header with its actions, the three tabs,
// and the live connection that feeds them.
import { $, clear, h, label } from "./dom.js";
import { httpClient, LiveSocket } from "./gql.js";
import { Overview } from "./overview.js";
import { Audience } from "./audience.js";
import { Activity } from "./activity.js";
import { Actions } from "./actions.js";

const KEY = "outbound.apiKey"; // sessionStorage: gone when the tab closes, never in a URL
const FILTERS = [
  ["Current", null],
  ["Draft", ["DRAFT"]],
  ["Active", ["ACTIVE"]],
  ["Paused", ["PAUSED"]],
  ["Archived", ["ARCHIVED"]],
];
const CAMPAIGNS = `query Campaigns($filter: CampaignFilter) {
  campaigns(filter: $filter, first: 100) { totalCount nodes { id name status } }
}`;
const CAMPAIGN = `query Campaign($id: ID!) { campaign(id: $id) {
  id name status createdAt launchedAt archivedAt identity { name }
  sequence { id position type channel parentStepId branch subject content title condition waitForAcceptanceDays
             taskType leadCount delay { days hours minutes } aiVariables { name prompt } }
} }`;
// Which fields the served schema has: revision 2's Campaign.series / funnel, and every KPI of CampaignStats
const CAPABILITIES = `campaign: __type(name: "Campaign") { fields { name } }
  ${["AllChannelsStats", "LinkedinStats", "EmailStats", "TaskStats"].map((t) => `${t}: __type(name: "${t}") { fields { name } }`).join(" ")}`;

const key = () => sessionStorage.getItem(KEY);
const api = httpClient(key);

const state = { filter: 0, campaignId: null, campaign: null, tab: "overview", fields: new Set() };
let live = null;
let unsubscribe = [];

const overview = new Overview(api, { viewActivity: (stepId) => openTab("activity", { stepId }) });
const audience = new Audience(api, { viewActivity: (leadId) => openTab("activity", { leadId }) });
const activity = new Activity(api);
const actions = new Actions(api, { changed: (campaign) => campaignChanged(campaign) });

// ------------------------------------------------------------------------------------------ sign-in

function showSignIn(message = "") {
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin [name=apiKey]").focus();
}

$("#signin form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = event.target.apiKey.value.trim();
  if (!value) return;
  sessionStorage.setItem(KEY, value);
  event.target.reset();
  await start();
});

$("#signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  stopLive();
  live?.close();
  live = null;
  showSignIn();
});

async function start() {
  if (!key()) return showSignIn();
  try {
    const data = await api(`{ viewer { name } ${CAPABILITIES} }`);
    $("#workspace-name").textContent = data.viewer.name;
    state.fields = new Set(data.campaign.fields.map((f) => f.name));
    overview.kpiFields({
      allChannels: data.AllChannelsStats.fields.map((f) => f.name),
      linkedin: data.LinkedinStats.fields.map((f) => f.name),
      email: data.EmailStats.fields.map((f) => f.name),
      tasks: data.TaskStats.fields.map((f) => f.name),
    });
  } catch (error) {
    sessionStorage.removeItem(KEY);
    return showSignIn(error.status === 401 ? "That API key was not accepted." : error.message);
  }
  $("#signin").hidden = true;
  $("#signout").hidden = false;
  $("#app").hidden = false;
  live = new LiveSocket(key, { onStatus: showLiveStatus });
  overview.capabilities(state.fields);
  renderFilters();
  await loadCampaigns();
  const [, id, tab] = location.hash.match(/^#\/campaigns\/([^/]+)(?:\/(\w+))?/) ?? [];
  // the newest running campaign first: the one that moves
  const first = id ?? ($("#campaign-list [data-campaign-status=ACTIVE]") ?? $("#campaign-list [data-campaign-id]"))?.dataset.campaignId;
  if (first) await openCampaign(first, tab ?? "overview");
}

function showLiveStatus(status) {
  const text = { live: "Live", reconnecting: "Reconnecting…", refused: "Live updates refused" }[status];
  const el = $("#live-status");
  el.textContent = text;
  el.dataset.status = status;
}

// --------------------------------------------------------------------------------------- campaigns

function renderFilters() {
  clear(
    $("#campaign-filters"),
    FILTERS.map(([name], i) =>
      h("button", {
        type: "button",
        "aria-pressed": String(i === state.filter),
        "data-filter": name,
        onclick: async () => {
          state.filter = i;
          renderFilters();
          await loadCampaigns();
        },
      }, name),
    ),
  );
}

async function loadCampaigns() {
  const statuses = FILTERS[state.filter][1];
  const data = await api(CAMPAIGNS, { filter: statuses ? { statuses } : null });
  const list = $("#campaign-list");
  clear(
    list,
    data.campaigns.nodes.map((c) =>
      h("li", {},
        h("a", {
          href: `#/campaigns/${c.id}/${state.tab}`,
          "data-campaign-id": c.id,
          "data-campaign-status": c.status,
          "aria-current": c.id === state.campaignId ? "page" : false,
          onclick: (event) => {
            event.preventDefault();
            openCampaign(c.id, state.tab);
          },
        }, h("span", { class: "name" }, c.name), " ", h("span", { class: `badge status-${c.status}` }, label(c.status))),
      ),
    ),
  );
  if (!data.campaigns.nodes.length) list.append(h("li", { class: "muted" }, "No campaigns here."));
}

async function openCampaign(id, tab = "overview") {
  stopLive();
  state.campaignId = id;
  delete $("#campaign").dataset.loaded;
  const data = await api(CAMPAIGN, { id });
  if (!data.campaign) {
    state.campaignId = null;
    $("#campaign").hidden = true;
    return;
  }
  $("#campaign").hidden = false;
  for (const a of document.querySelectorAll("#campaign-list [data-campaign-id]")) {
    if (a.dataset.campaignId === id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  showCampaign(data.campaign);
  openTab(tab); // at once: a tab chosen while the campaign loads must not be switched back
  await Promise.all([overview.open(data.campaign), audience.open(data.campaign), activity.open(data.campaign)]);
  if (state.campaignId !== id) return;
  startLive(id);
  $("#campaign").dataset.loaded = id; // every tab has its data (tests wait for this)
}

function showCampaign(campaign) {
  state.campaign = campaign;
  $("#campaign-name").textContent = campaign.name;
  const badge = $("#campaign-status");
  badge.textContent = label(campaign.status);
  badge.className = `badge status-${campaign.status}`;
  badge.dataset.status = campaign.status;
  $("#campaign-meta").textContent = [
    campaign.identity ? `Sender: ${campaign.identity.name}` : "No sender",
    campaign.launchedAt ? `launched ${new Date(campaign.launchedAt).toLocaleDateString()}` : "not launched",
  ].join(" · ");
  actions.show(campaign, $("#campaign-actions"), $("#action-panel"));
}

async function campaignChanged(campaign) {
  await loadCampaigns();
  if (!campaign) {
    // deleted
    stopLive();
    state.campaignId = null;
    $("#campaign").hidden = true;
    history.replaceState(null, "", "#/");
    const first = $("#campaign-list [data-campaign-id]")?.dataset.campaignId;
    if (first) await openCampaign(first);
    return;
  }
  if (campaign.id !== state.campaignId) return openCampaign(campaign.id);
  const data = await api(CAMPAIGN, { id: campaign.id });
  showCampaign(data.campaign);
  overview.sequence(data.campaign);
  activity.sequence(data.campaign);
}

// ------------------------------------------------------------------------------------------- tabs

const TABS = ["overview", "audience", "activity"];

function openTab(tab, filter = null) {
  state.tab = tab;
  for (const name of TABS) {
    const selected = name === tab;
    const button = $(`#tab-${name}`);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`#panel-${name}`).hidden = !selected;
  }
  if (state.campaignId) history.replaceState(null, "", `#/campaigns/${state.campaignId}/${tab}`);
  if (filter) activity.filterBy(filter);
}

for (const name of TABS) $(`#tab-${name}`).addEventListener("click", () => openTab(name));
$("[role=tablist]").addEventListener("keydown", (event) => {
  const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -TABS.length, End: TABS.length };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const i = Math.max(0, Math.min(TABS.length - 1, TABS.indexOf(state.tab) + moves[event.key]));
  openTab(TABS[i]);
  $(`#tab-${TABS[i]}`).focus();
});

// ------------------------------------------------------------------------------------------- live

function startLive(id) {
  const stats = `subscription Stats($id: ID!) { campaignStats(campaignId: $id) { ${overview.statsSelection()} } }`;
  const feed = `subscription Feed($id: ID!) { campaignActivity(campaignId: $id) { ${activity.selection()} } }`;
  unsubscribe = [
    live.subscribe(stats, { id }, {
      next: (data) => {
        overview.stats(data.campaignStats);
        audience.stats(data.campaignStats);
      },
      error: (errors) => console.warn("campaignStats", errors),
    }),
    live.subscribe(feed, { id }, {
      next: (data) => {
        activity.pushed(data.campaignActivity);
        overview.activityPushed();
      },
      reconnected: () => activity.reload(), // what happened while the connection was down is not replayed
      error: (errors) => console.warn("campaignActivity", errors),
    }),
  ];
}

function stopLive() {
  for (const stop of unsubscribe) stop();
  unsubscribe = [];
}

start();
