// The campaign's actions: Edit, Launch, Pause, Resume, Duplicate, Archive and Delete (the last two after a
// confirmation). A UserError is shown next to the input or button it concerns.
import { clear, h, label, showUserErrors } from "./dom.js";

const PAYLOAD = "campaign { id name status } errors { code message field }";
const MUTATIONS = {
  launch: `mutation($id: ID!) { result: launchCampaign(id: $id) { ${PAYLOAD} } }`,
  pause: `mutation($id: ID!) { result: pauseCampaign(id: $id) { ${PAYLOAD} } }`,
  resume: `mutation($id: ID!) { result: resumeCampaign(id: $id) { ${PAYLOAD} } }`,
  duplicate: `mutation($id: ID!) { result: duplicateCampaign(id: $id) { ${PAYLOAD} } }`,
  archive: `mutation($id: ID!) { result: archiveCampaign(id: $id) { ${PAYLOAD} } }`,
  delete: `mutation($id: ID!) { result: deleteCampaign(id: $id) { deletedId errors { code message field } } }`,
};
const UPDATE = `mutation($id: ID!, $input: UpdateCampaignInput!) { result: updateCampaign(id: $id, input: $input) { ${PAYLOAD} } }`;
const BUTTONS = {
  DRAFT: ["edit", "launch", "duplicate", "delete"],
  ACTIVE: ["edit", "pause", "duplicate", "archive", "delete"],
  PAUSED: ["edit", "resume", "duplicate", "archive", "delete"],
  ARCHIVED: ["duplicate", "delete"],
};
const CONFIRM = {
  archive: "Archive this campaign? Archiving is permanent: nothing runs again.",
  delete: "Delete this campaign with its leads, activity and tasks? This cannot be undone.",
};
const ACTION_STEPS = (step) => !["CONDITION", "END"].includes(step.type);

export class Actions {
  constructor(api, { changed }) {
    this.api = api;
    this.changed = changed;
  }

  show(campaign, bar, panel) {
    this.campaign = campaign;
    this.bar = bar;
    this.panel = panel;
    panel.hidden = true;
    clear(bar, BUTTONS[campaign.status].map((action) =>
      h("button", { type: "button", "data-action": action, "data-field": action, class: action === "delete" ? "danger" : "",
        onclick: () => (action === "edit" ? this.edit() : this.run(action)) }, label(action))));
  }

  async run(action) {
    if (CONFIRM[action] && !(await confirmDialog(CONFIRM[action], label(action)))) return;
    const { result } = await this.api(MUTATIONS[action], { id: this.campaign.id }).catch((error) => ({
      result: { errors: [{ code: error.code, message: error.message, field: [action] }] },
    }));
    if (result.errors.length) {
      // the API's paths name the mutation's arguments ("id"): shown at the button that was pressed
      return showUserErrors(this.bar, result.errors.map((e) => ({ ...e, field: [action] })));
    }
    await this.changed(action === "delete" ? null : result.campaign);
  }

  // --------------------------------------------------------------------------------------- edit

  edit() {
    const c = this.campaign;
    const draft = c.status === "DRAFT";
    const form = h("form", { class: "edit", novalidate: true, "aria-label": "Edit campaign", onsubmit: (e) => this.save(e, draft) },
      h("h3", {}, draft ? "Edit the draft" : "Edit the steps (applies to actions not yet performed)"),
      field("Name", h("input", { name: "name", value: c.name, "data-field": "input.name", required: true })),
      draft
        ? field("Sequence (StepInput list, JSON)",
            h("textarea", { name: "steps", rows: 14, "data-field": "input.steps", spellcheck: false },
              JSON.stringify(toStepInputs(c.sequence), null, 2)))
        : c.sequence.filter(ACTION_STEPS).map((step, i) => stepFields(step, i)),
      h("div", { class: "buttons" },
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", onclick: () => (this.panel.hidden = true) }, "Cancel")));
    clear(this.panel, form);
    this.panel.hidden = false;
    form.querySelector("input, textarea").focus();
  }

  async save(event, draft) {
    event.preventDefault();
    const form = event.target;
    const input = { name: form.elements.name.value };
    if (draft) {
      try {
        input.steps = JSON.parse(form.elements.steps.value);
      } catch (error) {
        return showUserErrors(form, [{ code: "INVALID_INPUT", message: `Not JSON: ${error.message}`, field: ["input", "steps"] }]);
      }
    } else {
      input.stepUpdates = [...form.querySelectorAll("fieldset[data-step-update]")].map((set) => {
        const get = (name) => set.querySelector(`[name="${name}"]`);
        const update = {
          stepId: set.dataset.stepUpdate,
          delay: { days: +get("days").value, hours: +get("hours").value, minutes: +get("minutes").value },
          aiVariables: parseAiVariables(get("aiVariables").value),
        };
        if (get("subject")) update.subject = get("subject").value;
        if (get("content")) update.content = get("content").value;
        return update;
      });
    }
    const { result } = await this.api(UPDATE, { id: this.campaign.id, input }).catch((error) => ({
      result: { errors: [{ code: error.code, message: error.message, field: null }] },
    }));
    if (result.errors.length) return showUserErrors(form, result.errors);
    this.panel.hidden = true;
    await this.changed(result.campaign);
  }
}

function field(text, control) {
  return h("label", { class: "field" }, h("span", {}, text), control);
}

function stepFields(step, i) {
  const at = (name) => `input.stepUpdates.${i}.${name}`;
  const number = (name, value) =>
    field(label(name), h("input", { type: "number", min: 0, name, value: String(value), "data-field": at(`delay.${name}`) }));
  const text = ["EMAIL", "LINKEDIN_INMAIL"].includes(step.type);
  return h("fieldset", { "data-step-update": step.id, "data-field": `input.stepUpdates.${i}` },
    h("legend", {}, `${step.position}. ${label(step.type)}`),
    h("div", { class: "delay" }, number("days", step.delay.days), number("hours", step.delay.hours), number("minutes", step.delay.minutes)),
    text ? field("Subject", h("input", { name: "subject", value: step.subject ?? "", "data-field": at("subject") })) : null,
    step.type !== "TASK" && step.type !== "LINKEDIN_VISIT_PROFILE" && step.type !== "LINKEDIN_LIKE_LAST_POST"
      ? field("Content", h("textarea", { name: "content", rows: 3, "data-field": at("content") }, step.content ?? ""))
      : null,
    field("AI variables (one per line: name: prompt)",
      h("textarea", { name: "aiVariables", rows: 2, "data-field": at("aiVariables") },
        step.aiVariables.map((v) => `${v.name}: ${v.prompt}`).join("\n"))));
}

function parseAiVariables(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const at = line.indexOf(":");
    return at < 0 ? { name: line, prompt: "" } : { name: line.slice(0, at).trim(), prompt: line.slice(at + 1).trim() };
  });
}

/** The served sequence (flat, with parents) as the nested StepInput list a draft's update takes. */
export function toStepInputs(sequence) {
  const under = (parentId, branch) => sequence.filter((s) => (s.parentStepId ?? null) === parentId && s.branch === branch);
  const convert = (s) => {
    const input = { type: s.type, delay: { days: s.delay.days, hours: s.delay.hours, minutes: s.delay.minutes } };
    for (const key of ["subject", "content", "condition", "waitForAcceptanceDays", "taskType", "title"]) {
      if (s[key] !== null && s[key] !== undefined) input[key] = s[key];
    }
    if (s.aiVariables.length) input.aiVariables = s.aiVariables;
    for (const [branch, name] of [["ON_TRUE", "onTrue"], ["ON_FALSE", "onFalse"], ["ACCEPTED", "onAccepted"], ["NOT_ACCEPTED", "onNotAccepted"]]) {
      const kids = under(s.id, branch);
      if (kids.length) input[name] = kids.map(convert);
    }
    return input;
  };
  return under(null, "MAIN").map(convert);
}

function confirmDialog(message, action) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-label": "Confirm" },
      h("form", { method: "dialog" },
        h("p", {}, message),
        h("div", { class: "buttons" },
          h("button", { value: "cancel", autofocus: true }, "Cancel"),
          h("button", { value: "confirm", class: "danger" }, action))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
