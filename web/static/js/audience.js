// The Audience tab: status chips with their counts (live), a substatus filter, search, paging with `after`,
// and the side panel of one lead: profile, timeline, error with its hint, and Retry.
import { $, clear, h, label, showUserErrors, throttle, when } from "./dom.js";

const PAGE = 25;
const AUDIENCE = `query Audience($id: ID!, $filter: AudienceFilter, $after: String) { campaign(id: $id) {
  audience(filter: $filter, first: ${PAGE}, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id status substatus contact { fullName company } currentStep { position type } nextActionAt }
  }
} }`;
const LEAD = `query Lead($id: ID!) { lead(id: $id) {
  id status substatus positive addedAt startedAt finishedAt repliedAt nextActionAt
  contact { fullName email linkedinUrl company title }
  currentStep { position type }
  error { substatus message hint occurredAt }
  timeline { id kind channel occurredAt detail step { position type } }
} }`;
const RETRY = `mutation Retry($id: ID!) { retryLead(id: $id) {
  lead { id status substatus } errors { code message field }
} }`;

export class Audience {
  constructor(api, { viewActivity }) {
    this.api = api;
    this.viewActivity = viewActivity;
    this.filter = { status: null, substatus: null, search: "" };
    this.cursors = [null]; // the `after` of each page seen, to page back
    this.counts = { statuses: [], substatuses: [] };
    this.refresh = throttle(() => this.load(), 2000);
    $("#audience-search").addEventListener("input", throttle((e) => this.set({ search: e.target.value.trim() }), 300));
    $("#audience-substatus").addEventListener("change", (e) => this.set({ substatus: e.target.value || null }));
    $("#audience-next").addEventListener("click", () => this.page(+1));
    $("#audience-prev").addEventListener("click", () => this.page(-1));
    $("#panel-close").addEventListener("click", () => this.closePanel());
    $("#lead-panel").addEventListener("keydown", (e) => e.key === "Escape" && this.closePanel());
  }

  async open(campaign) {
    this.campaignId = campaign.id;
    this.filter = { status: null, substatus: null, search: "" };
    $("#audience-search").value = "";
    this.closePanel();
    this.cursors = [null];
    await this.load();
  }

  set(change) {
    Object.assign(this.filter, change);
    if ("status" in change) this.filter.substatus = null;
    this.cursors = [null];
    this.chips();
    this.load();
  }

  page(step) {
    if (step > 0) this.cursors.push(this.endCursor);
    else if (this.cursors.length > 1) this.cursors.pop();
    this.load();
  }

  /** Chips and the substatus list come from CampaignStats, so they move with every push. */
  stats(stats) {
    if (stats.campaignId !== this.campaignId) return;
    this.counts = stats;
    this.chips();
    this.refresh(); // the rows' statuses moved too
  }

  chips() {
    const total = this.counts.statuses.reduce((n, s) => n + s.count, 0);
    const chip = (status, name, count) =>
      h("button", {
        type: "button",
        class: "chip",
        "aria-pressed": String(this.filter.status === status),
        "data-status": status ?? "ALL",
        onclick: () => this.set({ status }),
      }, name, " ", h("span", { class: "count" }, String(count)));
    clear($("#audience-chips"),
      chip(null, "All", total),
      this.counts.statuses.map((s) => chip(s.status, label(s.status), s.count)));
    const select = $("#audience-substatus");
    const options = this.counts.substatuses.filter((s) => !this.filter.status || s.status === this.filter.status);
    clear(select,
      h("option", { value: "" }, "Any substatus"),
      options.map((s) => h("option", { value: s.substatus, selected: s.substatus === this.filter.substatus }, `${label(s.substatus)} (${s.count})`)));
    if (this.filter.substatus && !options.some((s) => s.substatus === this.filter.substatus)) {
      select.append(h("option", { value: this.filter.substatus, selected: true }, `${label(this.filter.substatus)} (0)`));
    }
  }

  async load() {
    const id = this.campaignId;
    const filter = {};
    if (this.filter.status) filter.status = this.filter.status;
    if (this.filter.substatus) filter.substatus = this.filter.substatus;
    if (this.filter.search) filter.search = this.filter.search;
    const after = this.cursors.at(-1);
    const mine = (this.loads = (this.loads ?? 0) + 1);
    const data = await this.api(AUDIENCE, { id, filter, after });
    if (id !== this.campaignId || mine !== this.loads) return; // a later load (another filter) wins
    const page = data.campaign.audience;
    this.endCursor = page.pageInfo.endCursor;
    $("#audience-next").disabled = !page.pageInfo.hasNextPage;
    $("#audience-prev").disabled = this.cursors.length <= 1;
    const from = (this.cursors.length - 1) * PAGE;
    $("#audience-count").textContent = page.totalCount
      ? `${from + 1}–${from + page.nodes.length} of ${page.totalCount} leads`
      : "No leads match.";
    clear($("#audience-rows"), page.nodes.map((lead) =>
      h("tr", { "data-lead-id": lead.id, "data-status": lead.status },
        h("th", { scope: "row" }, h("button", { type: "button", class: "link", onclick: () => this.openPanel(lead.id) }, lead.contact.fullName)),
        h("td", { class: "hide-narrow" }, lead.contact.company ?? ""),
        h("td", {}, h("span", { class: `badge lead-${lead.status}` }, label(lead.status)), lead.substatus ? h("span", { class: "muted" }, ` ${label(lead.substatus)}`) : ""),
        h("td", { class: "hide-narrow" }, lead.currentStep ? `${lead.currentStep.position}. ${label(lead.currentStep.type)}` : "–"),
        h("td", { class: "hide-narrow" }, when(lead.nextActionAt)),
      )));
  }

  // -------------------------------------------------------------------------------- side panel

  closePanel() {
    $("#lead-panel").hidden = true;
    this.leadId = null;
  }

  async openPanel(id) {
    this.leadId = id;
    const { lead } = await this.api(LEAD, { id });
    if (!lead || this.leadId !== id) return;
    const panel = $("#lead-panel");
    panel.dataset.leadId = id;
    const c = lead.contact;
    const retry = h("form", { class: "retry", onsubmit: (e) => this.retry(e, id) },
      h("button", { type: "submit", "data-field": "id" }, "Retry"));
    clear($("#panel-body"),
      h("h2", { id: "panel-title" }, c.fullName),
      h("p", {}, h("span", { class: `badge lead-${lead.status}`, "data-lead-status": lead.status }, label(lead.status)),
        lead.substatus ? ` ${label(lead.substatus)}` : "", lead.positive ? " · positive reply" : ""),
      h("dl", { class: "profile" },
        [["Company", c.company], ["Title", c.title], ["Email", c.email], ["LinkedIn", c.linkedinUrl],
          ["Current step", lead.currentStep ? `${lead.currentStep.position}. ${label(lead.currentStep.type)}` : "–"],
          ["Added", when(lead.addedAt)], ["Next action", when(lead.nextActionAt) || "–"]]
          .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v || "–")))),
      lead.error
        ? h("section", { class: "lead-error", role: "status", "aria-label": "Error" },
            h("h3", {}, label(lead.error.substatus)),
            h("p", { class: "message" }, lead.error.message),
            h("p", { class: "hint" }, h("strong", {}, "How to fix: "), lead.error.hint),
            retry)
        : null,
      h("p", {}, h("button", { type: "button", class: "link", onclick: () => this.viewActivity(id) }, "View this lead's activity")),
      h("h3", {}, "Timeline"),
      lead.timeline.length
        ? h("ol", { class: "timeline" }, lead.timeline.map((a) =>
            h("li", { "data-activity-id": a.id },
              h("time", { datetime: a.occurredAt }, when(a.occurredAt)), " ",
              h("strong", {}, label(a.kind)),
              a.step ? h("span", { class: "muted" }, ` step ${a.step.position}`) : "",
              a.detail ? h("div", { class: "detail" }, a.detail) : "")))
        : h("p", { class: "muted" }, "Nothing yet."));
    panel.hidden = false;
    $("#panel-close").focus();
  }

  async retry(event, id) {
    event.preventDefault();
    const form = event.target;
    form.querySelector("button").disabled = true;
    try {
      const { retryLead } = await this.api(RETRY, { id });
      if (retryLead.errors.length) return showUserErrors(form, retryLead.errors);
      await Promise.all([this.openPanel(id), this.load()]);
    } catch (error) {
      showUserErrors(form, [{ code: error.code, message: error.message }]);
    } finally {
      form.querySelector("button").disabled = false;
    }
  }
}
