// The Activity tab: newest first, filtered by step, recipient, kinds and date range, paged with `after`; new
// entries pushed by the campaignActivity subscription appear at the top of the first page.
import { $, clear, h, label, when } from "./dom.js";

const PAGE = 30;
const KINDS = [
  "PROFILE_VISITED", "POST_LIKED", "INVITATION_SENT", "INVITATION_ACCEPTED", "INVITATION_WITHDRAWN",
  "LINKEDIN_MESSAGE_SENT", "INMAIL_SENT", "EMAIL_SENT", "EMAIL_CLICKED", "EMAIL_BOUNCED", "REPLY_RECEIVED",
  "TASK_CREATED", "TASK_COMPLETED", "LEAD_ERROR",
];
const FIELDS = "id kind channel occurredAt detail lead { id } contact { fullName } step { id position type }";
const ACTIVITY = `query Activity($id: ID!, $filter: ActivityFilter, $after: String) { campaign(id: $id) {
  activity(filter: $filter, first: ${PAGE}, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ${FIELDS} }
  }
} }`;
const RECIPIENTS = `query Recipients($id: ID!, $search: String) { campaign(id: $id) {
  audience(filter: { search: $search }, first: 20) { nodes { id contact { fullName email } } }
} }`;

export class Activity {
  constructor(api) {
    this.api = api;
    this.filter = {};
    this.cursors = [null];
    this.recipients = new Map(); // datalist label -> lead id
    clear($("#activity-kinds"), KINDS.map((kind) =>
      h("label", {}, h("input", { type: "checkbox", name: "kind", value: kind, onchange: () => this.readForm() }), ` ${label(kind)}`)));
    $("#activity-step").addEventListener("change", () => this.readForm());
    $("#activity-from").addEventListener("change", () => this.readForm());
    $("#activity-to").addEventListener("change", () => this.readForm());
    $("#activity-recipient").addEventListener("input", (e) => this.recipientTyped(e.target.value));
    $("#activity-clear").addEventListener("click", () => this.filterBy({}));
    $("#activity-next").addEventListener("click", () => this.page(+1));
    $("#activity-prev").addEventListener("click", () => this.page(-1));
  }

  selection() {
    return FIELDS;
  }

  async open(campaign) {
    this.campaignId = campaign.id;
    this.sequence(campaign);
    await this.filterBy({});
  }

  sequence(campaign) {
    const select = $("#activity-step");
    const current = select.value;
    clear(select, h("option", { value: "" }, "Any step"),
      campaign.sequence.filter((s) => !["CONDITION", "END"].includes(s.type))
        .map((s) => h("option", { value: s.id, selected: s.id === current }, `${s.position}. ${label(s.type)}`)));
  }

  /** Replaces every filter (View activity, the side panel's link, Clear). */
  async filterBy({ stepId = null, leadId = null }) {
    $("#activity-step").value = stepId ?? "";
    for (const box of document.querySelectorAll("#activity-kinds input")) box.checked = false;
    $("#activity-from").value = "";
    $("#activity-to").value = "";
    $("#activity-recipient").value = "";
    this.filter = {};
    if (stepId) this.filter.stepId = stepId;
    if (leadId) {
      this.filter.leadId = leadId;
      $("#activity-recipient").value = leadId;
      this.recipientLabel(leadId);
    }
    this.cursors = [null];
    await this.load();
  }

  readForm() {
    const filter = {};
    const step = $("#activity-step").value;
    if (step) filter.stepId = step;
    if (this.filter.leadId) filter.leadId = this.filter.leadId;
    const kinds = [...document.querySelectorAll("#activity-kinds input:checked")].map((b) => b.value);
    if (kinds.length) filter.kinds = kinds;
    // dates are the user's local days: from the start of `from` to the end of `to`
    const from = $("#activity-from").value;
    const to = $("#activity-to").value;
    if (from) filter.from = new Date(`${from}T00:00`).toISOString();
    if (to) filter.to = new Date(new Date(`${to}T00:00`).getTime() + 86400000).toISOString();
    this.filter = filter;
    this.cursors = [null];
    this.load();
  }

  async recipientTyped(value) {
    if (this.recipients.has(value)) {
      this.filter.leadId = this.recipients.get(value);
      return this.readForm();
    }
    if (!value && this.filter.leadId) {
      delete this.filter.leadId;
      return this.readForm();
    }
    if (value.length < 2) return;
    const search = value.replace(/\s*<.*$/, ""); // "Ana Doe <ana@...>" searches for the name
    const data = await this.api(RECIPIENTS, { id: this.campaignId, search });
    for (const lead of data.campaign.audience.nodes) {
      this.recipients.set(`${lead.contact.fullName}${lead.contact.email ? ` <${lead.contact.email}>` : ""}`, lead.id);
    }
    clear($("#recipient-options"), [...this.recipients.keys()].map((name) => h("option", { value: name })));
    // an entry picked while this search was on its way
    const now = $("#activity-recipient").value;
    if (this.recipients.has(now) && this.filter.leadId !== this.recipients.get(now)) {
      this.filter.leadId = this.recipients.get(now);
      this.readForm();
    }
  }

  async recipientLabel(leadId) {
    const data = await this.api(`query L($id: ID!) { lead(id: $id) { contact { fullName email } } }`, { id: leadId });
    const c = data.lead?.contact;
    if (!c || this.filter.leadId !== leadId) return;
    const name = `${c.fullName}${c.email ? ` <${c.email}>` : ""}`;
    this.recipients.set(name, leadId);
    $("#activity-recipient").value = name;
  }

  page(step) {
    if (step > 0) this.cursors.push(this.endCursor);
    else if (this.cursors.length > 1) this.cursors.pop();
    this.load();
  }

  reload() {
    this.load();
  }

  async load() {
    const id = this.campaignId;
    const filter = { ...this.filter };
    const data = await this.api(ACTIVITY, { id, filter, after: this.cursors.at(-1) });
    if (id !== this.campaignId || JSON.stringify(filter) !== JSON.stringify(this.filter)) return;
    const page = data.campaign.activity;
    this.endCursor = page.pageInfo.endCursor;
    this.total = page.totalCount;
    $("#activity-next").disabled = !page.pageInfo.hasNextPage;
    $("#activity-prev").disabled = this.cursors.length <= 1;
    this.count();
    clear($("#activity-rows"), page.nodes.map((a) => this.row(a)));
  }

  count() {
    $("#activity-count").textContent = this.total ? `${this.total} entries, newest first` : "Nothing matches.";
  }

  row(a) {
    return h("li", { "data-activity-id": a.id, "data-kind": a.kind, "data-step-id": a.step?.id ?? "" },
      h("time", { datetime: a.occurredAt }, when(a.occurredAt)),
      h("span", { class: `kind kind-${a.channel ?? "NONE"}` }, label(a.kind)),
      h("span", { class: "who" }, a.contact.fullName),
      h("span", { class: "muted" }, a.step ? `step ${a.step.position}` : ""),
      a.detail ? h("span", { class: "detail" }, a.detail) : "");
  }

  /** A live entry: shown at the top when the first page is on screen and it matches the filters. */
  pushed(a) {
    if (this.cursors.length > 1) return;
    const f = this.filter;
    if (f.stepId && a.step?.id !== f.stepId) return;
    if (f.leadId && a.lead.id !== f.leadId) return;
    if (f.kinds && !f.kinds.includes(a.kind)) return;
    const at = Date.parse(a.occurredAt);
    if ((f.from && at < Date.parse(f.from)) || (f.to && at >= Date.parse(f.to))) return;
    const rows = $("#activity-rows");
    if (rows.querySelector(`[data-activity-id="${CSS.escape(a.id)}"]`)) return;
    const row = this.row(a);
    row.classList.add("fresh");
    rows.prepend(row);
    while (rows.children.length > PAGE) rows.lastElementChild.remove();
    this.total = (this.total ?? 0) + 1;
    this.count();
  }
}
