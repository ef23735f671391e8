// The Overview tab: the KPIs of CampaignStats, the sequence flow preview, the chart of `series` by day and the
// funnel per step. The chart and the funnel need Campaign.series / Campaign.funnel (contract revision 2): on a
// server that does not serve them yet they are replaced by a note.
import { $, clear, h, label, throttle } from "./dom.js";

// The KPIs' names and order; a field the served schema adds (say EmailStats.unsubscribed) shows up too.
const KPIS = {
  allChannels: ["All channels", { totalContacts: "Leads", started: "Started", contacted: "Contacted", replied: "Replied", positive: "Positive" }],
  linkedin: ["LinkedIn", { engaged: "Engaged", invited: "Invited", accepted: "Accepted", contacted: "Messaged", replied: "Replied", positive: "Positive" }],
  email: ["Email", { sent: "Sent", clicked: "Clicked", replied: "Replied", positive: "Positive", bounced: "Bounced", unsubscribed: "Unsubscribed" }],
  tasks: ["Tasks", { pending: "Pending", completed: "Completed" }],
};
const SERIES = {
  invitationsSent: ["Invitations", "#2563eb"],
  linkedinMessagesSent: ["LinkedIn messages", "#0891b2"],
  emailsSent: ["Emails", "#7c3aed"],
  replies: ["Replies", "#16a34a"],
  errors: ["Errors", "#dc2626"],
};
const BRANCHES = { ON_TRUE: "If yes", ON_FALSE: "If no", ACCEPTED: "Accepted", NOT_ACCEPTED: "Not accepted" };
const SERIES_QUERY = `query Series($id: ID!, $from: DateTime, $to: DateTime, $tz: String) { campaign(id: $id) {
  series(bucket: DAY, from: $from, to: $to, timezone: $tz) { start ${Object.keys(SERIES).join(" ")} }
} }`;
const DAY_MS = 86400000;
const FUNNEL_QUERY = `query Funnel($id: ID!) { campaign(id: $id) {
  funnel { step { id position type subject title } performed replied positive clicked bounced replyRate }
} }`;

export class Overview {
  constructor(api, { viewActivity }) {
    this.api = api;
    this.viewActivity = viewActivity;
    this.root = $("#panel-overview");
    this.hasSeries = false;
    this.hasFunnel = false;
    this.refreshCharts = throttle(() => this.loadCharts(), 3000);
    this.kpis = KPIS;
  }

  /** The served fields of each CampaignStats group: known ones in KPIS order, then any new ones. */
  kpiFields(served) {
    this.kpis = Object.fromEntries(Object.entries(KPIS).map(([group, [title, names]]) => {
      const fields = Object.fromEntries(Object.entries(names).filter(([f]) => served[group].includes(f)));
      for (const f of served[group]) fields[f] ??= label(f.replace(/[A-Z]/g, (c) => `_${c}`));
      return [group, [title, fields]];
    }));
    this.renderKpis();
  }

  capabilities(fields) {
    this.hasSeries = fields.has("series");
    this.hasFunnel = fields.has("funnel");
  }

  statsSelection() {
    const groups = Object.entries(this.kpis).map(([group, [, fields]]) => `${group} { ${Object.keys(fields).join(" ")} }`);
    return `campaignId version ${groups.join(" ")} statuses { status count } substatuses { status substatus count } steps { stepId leadCount }`;
  }

  renderKpis() {
    clear(
      $("#kpis"),
      Object.entries(this.kpis).map(([group, [title, fields]]) =>
        h("section", { class: "kpi-group", "aria-labelledby": `kpi-${group}` },
          h("h3", { id: `kpi-${group}` }, title),
          h("dl", {},
            Object.entries(fields).map(([field, name]) =>
              h("div", { class: "kpi" },
                h("dt", {}, name),
                h("dd", { "data-metric": `${group}.${field}` }, "–"),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async open(campaign) {
    this.campaignId = campaign.id;
    this.since = campaign.launchedAt ?? campaign.createdAt;
    this.sequence(campaign);
    const data = await this.api(`query S($id: ID!) { campaign(id: $id) { stats { ${this.statsSelection()} } } }`, { id: campaign.id });
    this.stats(data.campaign.stats);
    await this.loadCharts();
  }

  /** A whole CampaignStats, from the query or a push. */
  stats(stats) {
    if (stats.campaignId && stats.campaignId !== this.campaignId) return;
    if (this.version !== undefined && stats.version < this.version) return;
    this.version = stats.version;
    for (const [group, [, fields]] of Object.entries(this.kpis)) {
      for (const field of Object.keys(fields)) {
        const el = this.root.querySelector(`[data-metric="${group}.${field}"]`);
        if (el) el.textContent = String(stats[group][field]);
      }
    }
    for (const { stepId, leadCount } of stats.steps) {
      const el = this.root.querySelector(`[data-step-id="${stepId}"] > .step .lead-count`);
      if (el) el.textContent = String(leadCount);
    }
  }

  activityPushed() {
    if (this.hasSeries || this.hasFunnel) this.refreshCharts();
  }

  // ------------------------------------------------------------------------------- flow preview

  sequence(campaign) {
    this.campaignId = campaign.id;
    this.version = undefined;
    const children = new Map();
    for (const step of campaign.sequence) {
      const parent = step.parentStepId ?? "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(step);
    }
    const list = (steps) => h("ol", { class: "flow" }, steps.map((step) => this.stepItem(step, children)));
    clear($("#flow"), campaign.sequence.length ? list(children.get("") ?? []) : h("p", { class: "muted" }, "No steps yet."));
  }

  stepItem(step, children) {
    const under = children.get(step.id) ?? [];
    const branches = Object.entries(BRANCHES)
      .map(([branch, name]) => [name, under.filter((s) => s.branch === branch)])
      .filter(([, steps]) => steps.length);
    const d = step.delay;
    const delay = d.days || d.hours || d.minutes ? `after ${d.days}d ${d.hours}h ${d.minutes}m` : "at once";
    const action = !["CONDITION", "END"].includes(step.type);
    return h("li", { "data-step-id": step.id },
      h("div", { class: `step type-${step.type}` },
        h("span", { class: "position" }, `${step.position}`),
        h("span", { class: "what" },
          h("strong", {}, label(step.type)),
          step.condition ? ` ${label(step.condition)}?` : "",
          step.subject || step.title ? h("span", { class: "muted" }, ` “${step.subject || step.title}”`) : "",
          h("span", { class: "muted delay" }, ` ${delay}`),
        ),
        h("span", { class: "leads", title: "Leads at this step" }, h("span", { class: "lead-count" }, String(step.leadCount)), " leads"),
        action
          ? h("button", { type: "button", class: "link", onclick: () => this.viewActivity(step.id) }, "View activity",
              h("span", { class: "visually-hidden" }, ` of step ${step.position}`))
          : null,
      ),
      branches.map(([name, steps]) =>
        h("div", { class: "branch" }, h("span", { class: "branch-name" }, name),
          h("ol", { class: "flow" }, steps.map((s) => this.stepItem(s, children))))),
    );
  }

  // ------------------------------------------------------------------------------ chart, funnel

  async loadCharts() {
    const id = this.campaignId;
    await Promise.all([
      this.hasSeries
        ? this.api(SERIES_QUERY, { id, ...this.seriesRange() }).then((d) => id === this.campaignId && this.chart(d.campaign.series), (e) => this.unavailable("#chart", e.message))
        : this.unavailable("#chart", "The chart needs Campaign.series, which this server does not serve yet."),
      this.hasFunnel
        ? this.api(FUNNEL_QUERY, { id }).then((d) => id === this.campaignId && this.funnel(d.campaign.funnel), (e) => this.unavailable("#funnel", e.message))
        : this.unavailable("#funnel", "The funnel needs Campaign.funnel, which this server does not serve yet."),
    ]);
  }

  /** The user's days, from the campaign's launch (two weeks at least, 90 days at most) through today. */
  seriesRange() {
    const midnight = (t) => {
      const d = new Date(t);
      d.setHours(0, 0, 0, 0);
      return d;
    };
    const today = midnight(Date.now());
    const launched = midnight(this.since ?? Date.now());
    const days = Math.min(90, Math.max(14, Math.round((today - launched) / DAY_MS) + 1));
    const from = midnight(today.getTime() - (days - 1) * DAY_MS + DAY_MS / 2); // DST-safe: noon, then midnight
    const to = midnight(today.getTime() + DAY_MS + DAY_MS / 2);
    return { from: from.toISOString(), to: to.toISOString(), tz: Intl.DateTimeFormat().resolvedOptions().timeZone };
  }

  unavailable(selector, message) {
    clear($(selector), h("p", { class: "muted note", "data-unavailable": "" }, message));
  }

  chart(points) {
    const root = $("#chart");
    if (!points.length) return clear(root, h("p", { class: "muted" }, "Nothing has happened yet."));
    const keys = Object.keys(SERIES);
    const W = 640, H = 220, left = 36, bottom = 24, top = 8;
    const max = Math.max(1, ...points.flatMap((p) => keys.map((k) => p[k])));
    const slot = (W - left) / points.length; // one day: a group of bars
    const bar = Math.max(1, (slot * 0.8) / keys.length);
    const y = (v) => top + (H - top - bottom) * (1 - v / max);
    const svg = (tag, attrs, ...kids) => {
      const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      el.append(...kids);
      return el;
    };
    const day = (p) => new Date(p.start).toLocaleDateString(undefined, { month: "short", day: "numeric" });
    const every = Math.ceil(points.length / 7);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Activity per day" },
      svg("line", { x1: left, y1: y(0), x2: W, y2: y(0), class: "axis" }),
      svg("text", { x: left - 6, y: y(max) + 4, "text-anchor": "end", class: "tick" }, String(max)),
      svg("text", { x: left - 6, y: y(0) + 4, "text-anchor": "end", class: "tick" }, "0"),
      ...points.map((p, i) => ((points.length - 1 - i) % every ? null
        : svg("text", { x: left + slot * (i + 0.5), y: H - 6, "text-anchor": "middle", class: "tick" }, day(p)))).filter(Boolean),
      ...points.flatMap((p, i) => keys.filter((k) => p[k]).map((k) =>
        svg("rect", { x: left + slot * i + slot * 0.1 + bar * keys.indexOf(k), y: y(p[k]), width: bar, height: y(0) - y(p[k]),
          fill: SERIES[k][1], "data-series": k }, svg("title", {}, `${day(p)}: ${p[k]} ${SERIES[k][0].toLowerCase()}`)))),
    );
    const legend = h("ul", { class: "legend" },
      Object.entries(SERIES).map(([key, [name, color]]) =>
        h("li", { "data-series-total": key }, h("span", { class: "swatch", style: `background:${color}` }), `${name}: ${points.reduce((n, p) => n + p[key], 0)}`)));
    // the numbers for a screen reader (a table ignores a 1px width: its wrapper hides it)
    const table = h("div", { class: "visually-hidden" }, h("table", {},
      h("caption", {}, "Activity per day"),
      h("tr", {}, h("th", {}, "Day"), Object.values(SERIES).map(([name]) => h("th", {}, name))),
      points.map((p) => h("tr", {}, h("td", {}, day(p)), keys.map((k) => h("td", {}, String(p[k])))))));
    clear(root, chart, legend, table);
  }

  funnel(rows) {
    const root = $("#funnel");
    if (!rows.length) return clear(root, h("p", { class: "muted" }, "No action steps."));
    const most = Math.max(1, ...rows.map((r) => r.performed));
    clear(root, h("table", { class: "funnel" },
      h("thead", {}, h("tr", {}, ["Step", "Performed", "Replied", "Positive", "Clicked", "Bounced", "Reply rate"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) =>
        h("tr", { "data-funnel-step-id": r.step.id },
          h("th", { scope: "row" }, `${r.step.position}. ${label(r.step.type)}`,
            h("span", { class: "bar", style: `width:${(100 * r.performed) / most}%` })),
          h("td", {}, String(r.performed)), h("td", {}, String(r.replied)), h("td", {}, String(r.positive)),
          h("td", {}, String(r.clicked)), h("td", {}, String(r.bounced)),
          h("td", { "data-reply-rate": String(r.replyRate) }, `${(100 * r.replyRate).toFixed(1)}%`),
        ))),
    ));
  }
}
