// The studio page: one flow, drawn, edited in generated forms, checked as you type, rehearsed and saved.
import { ApiError, get, post, postForText } from './api.js';
import { FlowGraph, NODE_STYLES } from './graph.js';
import { renderObject, showErrors } from './form.js';
import { Rehearsal } from './rehearse.js';

const $ = (id) => document.getElementById(id);

const state = {
  data: null, version: null, schema: null, branchFields: {}, nodeTypes: [], problems: [], graph: null,
  renames: [], base: null, selected: null, dirty: false, valid: true, checking: null, checkSeq: 0,
};

const studio = { state };
window.studio = studio;  // for the browser tests and the curious

function message(text, kind = 'error', items = []) {
  const box = $('message');
  if (!text) { box.hidden = true; box.textContent = ''; return; }
  box.hidden = false;
  box.className = `message ${kind}`;
  box.textContent = text;
  if (items.length) {
    const list = document.createElement('ul');
    list.append(...items.map((item) => Object.assign(document.createElement('li'), { textContent: item })));
    box.append(list);
  }
}

function errorText(error) {
  if (error instanceof ApiError) {
    const d = error.detail;
    if (d && typeof d === 'object' && Array.isArray(d)) return d.map((x) => (x.msg || JSON.stringify(x)).replace(/^Value error, /, '')).join('; ');
    return error.message;
  }
  return String(error);
}

function setStatus() {
  const n = state.problems.length;
  const nodes = Object.keys((state.data && state.data.nodes) || {}).length;
  $('status').textContent = n ? `${n} problem${n === 1 ? '' : 's'}` : `valid (${nodes} nodes)`;
  $('status').className = `status ${n ? 'bad' : 'good'}`;
  $('problem-count').textContent = String(n);
  $('dirty').hidden = !state.dirty;
}

// --- tabs ---------------------------------------------------------------------------------------
const TABS = ['node', 'flow', 'problems', 'rehearse', 'yaml'];
function showTab(name, focus = false) {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
}
for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => showTab(t));
document.querySelector('.tabs').addEventListener('keydown', (e) => {
  const i = TABS.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
  if (e.key === 'ArrowRight') { showTab(TABS[(i + 1) % TABS.length], true); e.preventDefault(); }
  if (e.key === 'ArrowLeft') { showTab(TABS[(i + TABS.length - 1) % TABS.length], true); e.preventDefault(); }
});

// --- graph and node list --------------------------------------------------------------------------
const graph = new FlowGraph($('graph'), (id, field) => selectNode(id, field ? { focusField: field } : {}), connectTo);

function connectTo(source, target) {
  selectNode(source);
  const box = $('node-form').querySelector('.connect');
  if (!box || box.hidden) { message(`${source} has no branches to connect.`); graph.select(source); return; }
  $('connect-target').value = target;
  graph.select(source);
  $('connect-branch').focus();
  message(`Choose which branch of ${source} leads to ${target}, then Connect.`, 'info');
}
studio.graph = graph;

function renderLegend() {
  $('legend').replaceChildren(...Object.entries(NODE_STYLES).map(([, s]) => {
    const item = document.createElement('span');
    item.innerHTML = `<i style="background:${s.color}"></i>`;
    item.append(s.label);
    return item;
  }));
}

function renderNodeList() {
  const list = $('node-list');
  const problemNodes = new Set(state.problems.map((p) => p.node).filter(Boolean));
  const unreachable = new Set(state.graph ? state.graph.unreachable : []);
  list.replaceChildren(...Object.entries(state.data.nodes || {}).map(([id, node]) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.node = id;
    const kind = node && NODE_STYLES[node.type] ? NODE_STYLES[node.type].label : (node && node.type) || '?';
    const marks = [problemNodes.has(id) ? 'has problems' : '', unreachable.has(id) ? 'unreachable' : ''].filter(Boolean);
    button.textContent = `${id} (${kind})${marks.length ? ` — ${marks.join(', ')}` : ''}`;
    if (marks.length) button.classList.add('flagged');
    button.setAttribute('aria-current', String(id === state.selected));
    button.addEventListener('click', () => selectNode(id, { focusForm: true }));
    li.append(button);
    return li;
  }));
}

function redraw() {
  graph.render(state.graph, state.problems);
  renderNodeList();
  setStatus();
  renderProblems();
  if (state.selected) showErrors($('node-form'), state.problems.filter((p) => p.node === state.selected));
  showErrors($('flow-form'), state.problems.filter((p) => !p.node));
}

// --- checks as you type -------------------------------------------------------------------------
function edited() {
  return { data: state.data, renames: state.renames, base: state.base };
}

let timer = null;
function changed() {
  state.dirty = true;
  setStatus();
  clearTimeout(timer);
  timer = setTimeout(check, 250);
}
studio.changed = changed;

// Undo: the flow as it was at each check (one a pause in typing), back to when the page loaded or saved.
const history = [];
function remember() {
  const snapshot = JSON.stringify({ data: state.data, renames: state.renames, base: state.base });
  if (history[history.length - 1] !== snapshot) history.push(snapshot);
  if (history.length > 200) history.shift();
  $('undo').disabled = history.length < 2;
}

function undo() {
  if (history.length < 2) return;
  history.pop();
  const previous = JSON.parse(history[history.length - 1]);
  Object.assign(state, previous);
  if (state.selected && !(state.selected in (state.data.nodes || {}))) state.selected = null;
  state.dirty = true;
  renderFlowForm();
  renderNodeForm();
  $('undo').disabled = history.length < 2;
  message('Undone.', 'info');
  check();
}
studio.undo = undo;
$('undo').addEventListener('click', undo);

async function check() {
  remember();
  const seq = ++state.checkSeq;
  const run = post('/api/check', edited()).then((answer) => {
    if (seq !== state.checkSeq) return;  // a later edit's check is on its way
    state.problems = answer.problems;
    state.valid = answer.valid;
    state.graph = answer.graph;
    if (answer.valid) $('save-anyway').hidden = true;
    $('yaml').textContent = answer.yaml;
    redraw();
  }).catch((e) => message(errorText(e)));
  state.checking = run;
  return run;
}
studio.check = check;
studio.settled = async () => { clearTimeout(timer); await check(); };

function renderProblems() {
  const list = $('problems');
  list.replaceChildren(...state.problems.map((p) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `${p.line ? `line ${p.line}: ` : ''}${p.message}. Fix: ${p.fix}`;
    button.addEventListener('click', () => {
      if (p.node && state.data.nodes && p.node in state.data.nodes) selectNode(p.node, { focusField: p.field });
      else { showTab('flow'); focusField($('flow-form'), p.field); }
    });
    li.append(button);
    return li;
  }));
  if (!state.problems.length) list.innerHTML = '<li class="ok">No problems: `voice-agent flow validate` accepts this flow.</li>';
}

function focusField(container, field) {
  for (let n = field.length; n >= 0; n--) {
    const key = JSON.stringify(field.slice(0, n));
    const input = [...container.querySelectorAll('[data-input-path]')].find((e) => e.dataset.inputPath === key);
    if (input) { input.closest('details')?.setAttribute('open', ''); input.focus(); return; }
  }
}

// --- node form ---------------------------------------------------------------------------------
// Where a field names an installed plugin, the page offers the installed names (typing another is allowed:
// the checks say what is installed).
function suggest(path) {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === 'type' && path.includes('sources')) return 'dl-sources';
  if (last === 'type' && parent === 'platform') return 'dl-platforms';
  if (last === 'type' && parent === 'on_call') return 'dl-directories';
  if (last === 'fallback_plugin') return 'dl-fallbacks';
  if (last === 'name' && path[0] === 'gathers' && path.length === 3) return 'dl-gathers';
  if (last === '*key' && path.length === 2 && path[0] === 'intents') return 'dl-intents';
  return null;
}

function pluginDatalists(plugins) {
  for (const [kind, names] of Object.entries(plugins)) {
    const list = document.createElement('datalist');
    list.id = `dl-${kind}`;
    list.append(...names.map((n) => Object.assign(document.createElement('option'), { value: n })));
    document.body.append(list);
  }
}

function formContext(prefix) {
  return {
    root: state.schema,
    nodeListId: 'node-ids',
    suggest: prefix === 'node' ? suggest : null,
    changed: () => changed(),
    isBranch: (path) => {
      if (prefix !== 'node' || path.length < 1) return false;
      const node = state.data.nodes[state.selected];
      const fields = (node && state.branchFields[node.type]) || [];
      if (path.length === 1) return fields.includes(path[0]) && !['intents', 'options'].includes(path[0]);
      return path.length === 2 && ['intents', 'options'].includes(path[0]) && fields.includes(path[0]);
    },
  };
}

function nodeIdsDatalist() {
  let list = $('node-ids');
  if (!list) { list = document.createElement('datalist'); list.id = 'node-ids'; document.body.append(list); }
  list.replaceChildren(...Object.keys(state.data.nodes || {}).map((id) => Object.assign(document.createElement('option'), { value: id })));
}

function selectNode(id, { focusForm = false, focusField: field = null } = {}) {
  state.selected = id;
  showTab('node');
  $('add-form').hidden = true;
  graph.select(id);
  renderNodeForm();
  renderNodeList();
  if (field) focusField($('node-form'), field);
  else if (focusForm) $('node-id').focus();
}
studio.selectNode = selectNode;

function renderNodeForm() {
  const box = $('node-form');
  const id = state.selected;
  const node = state.data.nodes && state.data.nodes[id];
  $('node-hint').hidden = Boolean(node);
  if (!node) { box.replaceChildren(); return; }
  nodeIdsDatalist();
  const head = document.createElement('div');
  head.className = 'node-head';
  head.dataset.path = '[]';
  head.innerHTML = `
    <h2>Node <code></code></h2>
    <label class="field"><span class="label">id</span> <input id="node-id" autocomplete="off"></label>
    <label class="field"><span class="label">type</span> <select id="node-type"></select></label>
    <fieldset class="connect"><legend>Connect a branch</legend>
      <label>branch <select id="connect-branch"></select></label>
      <label id="connect-name-label" hidden>name <input id="connect-name" autocomplete="off"></label>
      <label>to <input id="connect-target" list="node-ids" autocomplete="off" placeholder="node id (empty: end the call)"></label>
      <button type="button" id="connect">Connect</button>
    </fieldset>
    <button type="button" id="node-delete" class="danger">Delete node</button>
    <div class="field-error" data-error-for="[]"></div>`;
  head.querySelector('code').textContent = id;
  const idInput = head.querySelector('#node-id');
  idInput.value = id;
  idInput.addEventListener('change', () => renameNode(id, idInput.value.trim(), idInput));
  const typeSelect = head.querySelector('#node-type');
  const known = state.nodeTypes.includes(node.type);
  const types = known ? state.nodeTypes : [String(node.type ?? ''), ...state.nodeTypes];
  for (const t of types) {
    typeSelect.append(Object.assign(document.createElement('option'), { value: t, textContent: t === '' ? '(choose a type)' : (known || t !== types[0] ? t : `${t} (unknown)`) }));
  }
  typeSelect.value = String(node.type ?? '');
  typeSelect.addEventListener('change', () => { node.type = typeSelect.value; changed(); renderNodeForm(); });
  head.querySelector('#node-delete').addEventListener('click', () => deleteNode(id));
  wireConnect(head, id, node);
  const fields = document.createElement('div');
  fields.className = 'fields';
  const def = state.schema.properties.nodes.additionalProperties.discriminator.mapping[node.type];
  if (def) renderObject(formContext('node'), fields, node, { $ref: def }, [], { skip: ['type'] });
  else fields.textContent = `Unknown node type ${node.type}: choose one of the types above.`;
  box.replaceChildren(head, fields);
  showErrors(box, state.problems.filter((p) => p.node === id));
}

// Connect one of the node's branches (a field that names a node) to a node, from the top of its form.
const NEW_ENTRY = { intents: 'a new intent', options: 'a new key' };

function branchSlots(node) {
  const slots = [];
  for (const f of state.branchFields[node.type] || []) {
    if (f in NEW_ENTRY) {
      for (const k of Object.keys(node[f] || {})) slots.push({ path: [f, k], label: `${f === 'intents' ? 'intent' : 'key'} ${k}` });
      slots.push({ path: [f, null], label: NEW_ENTRY[f] });
    } else slots.push({ path: [f], label: f });
  }
  return slots;
}

function wireConnect(head, id, node) {
  const box = head.querySelector('.connect');
  const select = head.querySelector('#connect-branch');
  const slots = branchSlots(node);
  if (!slots.length) { box.hidden = true; return; }
  select.replaceChildren(...slots.map((slot, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: slot.label })));
  const named = () => slots[Number(select.value)].path[1] === null;
  select.addEventListener('change', () => { head.querySelector('#connect-name-label').hidden = !named(); });
  head.querySelector('#connect').addEventListener('click', () => {
    const slot = slots[Number(select.value)];
    const target = head.querySelector('#connect-target').value.trim() || null;
    const [field, key] = slot.path;
    let path = slot.path;
    if (key === null) {
      const name = head.querySelector('#connect-name').value.trim();
      if (!name) { message(`Give the ${field === 'intents' ? 'intent' : 'key'} a name first.`); head.querySelector('#connect-name').focus(); return; }
      if (!node[field] || typeof node[field] !== 'object') node[field] = {};
      node[field][name] = target;
      path = [field, name];
    } else if (key !== undefined) node[field][key] = target;
    else node[field] = target;
    message(null);
    changed();
    renderNodeForm();
    focusField($('node-form'), path);
  });
}

function renameNode(oldId, newId, input) {
  const nodes = state.data.nodes;
  if (!newId || newId === oldId) { input.value = oldId; return; }
  if (newId in nodes) { message(`A node \`${newId}\` already exists; choose another id.`); input.value = oldId; return; }
  const entries = Object.entries(nodes).map(([k, v]) => [k === oldId ? newId : k, v]);
  for (const k of Object.keys(nodes)) delete nodes[k];
  for (const [k, v] of entries) nodes[k] = v;
  for (const node of Object.values(nodes)) retarget(node, oldId, newId);
  if (state.data.start === oldId) state.data.start = newId;
  state.renames.push([oldId, newId]);
  message(null);
  state.selected = newId;
  changed();
  renderNodeForm();
  renderFlowForm();
  $('node-id').focus();
}

function retarget(node, oldId, newId) {
  const fields = (node && state.branchFields[node.type]) || [];
  for (const f of fields) {
    if (['intents', 'options'].includes(f)) {
      for (const [k, v] of Object.entries(node[f] || {})) if (v === oldId) node[f][k] = newId;
    } else if (node[f] === oldId) node[f] = newId;
  }
}

function deleteNode(id) {
  delete state.data.nodes[id];
  state.selected = null;
  changed();
  renderNodeForm();
  renderNodeList();
  message(`Deleted node ${id}. Branches that led to it are now marked dangling.`, 'info');
  $('add-node').focus();
}

// --- adding a node -----------------------------------------------------------------------------
function openAddForm() {
  showTab('node');
  const form = $('add-form');
  form.hidden = false;
  $('add-id').value = '';
  $('add-id').focus();
}
$('add-node').addEventListener('click', openAddForm);
$('add-cancel').addEventListener('click', () => { $('add-form').hidden = true; $('add-node').focus(); });
$('add-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('add-id').value.trim();
  const type = $('add-type').value;
  if (!id) return;
  if (!state.data.nodes) state.data.nodes = {};
  if (id in state.data.nodes) { message(`A node \`${id}\` already exists; choose another id.`); return; }
  state.data.nodes[id] = { type };
  message(null);
  changed();
  selectNode(id);
  const first = $('node-form').querySelector('.fields [data-input-path]');
  if (first) first.focus();
});

// --- flow form (top-level settings) --------------------------------------------------------------
function renderFlowForm() {
  const box = $('flow-form');
  box.replaceChildren();
  const ctx = { ...formContext('flow'), isBranch: (path) => path.length === 1 && path[0] === 'start' };
  renderObject(ctx, box, state.data, state.schema, [], { skip: ['nodes'] });
  showErrors(box, state.problems.filter((p) => !p.node));
}

// --- save ----------------------------------------------------------------------------------------
async function save(force = false) {
  clearTimeout(timer);
  try {
    const answer = await post('/api/save', { ...edited(), force, version: state.version });
    state.version = answer.version;
    state.renames = [];
    state.base = null;
    history.length = 0;
    remember();
    state.dirty = false;
    state.problems = answer.problems;
    state.valid = answer.valid;
    $('save-anyway').hidden = true;
    message(`Saved ${answer.file}${answer.valid ? '' : ' (with problems)'}.`, 'info');
    redraw();
  } catch (e) {
    if (e instanceof ApiError && e.status === 422 && e.detail && e.detail.problems) {
      state.problems = e.detail.problems;
      redraw();
      message(`${e.detail.message}.`);
      $('save-anyway').hidden = false;
      showTab('problems');
    } else message(errorText(e));
  }
}
studio.save = save;
$('save').addEventListener('click', () => save(false));
$('save-anyway').addEventListener('click', () => save(true));
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') { e.preventDefault(); save(false); }
  if (e.altKey && e.key.toLowerCase() === 'n') { e.preventDefault(); openAddForm(); }
  const typing = e.target.closest && e.target.closest('input, textarea, select');
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z' && !e.shiftKey && !typing) { e.preventDefault(); undo(); }
});
window.addEventListener('beforeunload', (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ''; } });

// --- import and export ---------------------------------------------------------------------------
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
const stem = () => $('file-name').textContent.replace(/\.ya?ml$/, '');
$('export-mermaid').addEventListener('click', async () => {
  try { download(new Blob([await postForText('/api/mermaid', edited())], { type: 'text/plain' }), `${stem()}.mmd`); } catch (e) { message(errorText(e)); }
});
$('export-png').addEventListener('click', () => download(graph.png(), `${stem()}.png`));
$('export-svg').addEventListener('click', () => download(graph.svg(), `${stem()}.svg`));
$('import-ilert').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const answer = await post('/api/import-ilert', { json_text: await file.text() });
    state.data = answer.data;
    state.base = answer.yaml;  // the imported text replaces the file's, comments and order included
    state.renames = [];
    state.selected = null;
    e.target.closest('details').open = false;
    changed();
    renderFlowForm();
    renderNodeForm();
    message(`Imported ${file.name}; save to write it to ${$('file-name').textContent}.${answer.warnings.length ? ' Not carried over:' : ''}`, 'info', answer.warnings);
  } catch (err) { message(errorText(err)); }
  e.target.value = '';
});

// --- start -----------------------------------------------------------------------------------------
async function load() {
  try {
    const s = await get('/api/flow');
    Object.assign(state, {
      data: s.data, version: s.version, schema: s.schema, branchFields: s.branch_fields, nodeTypes: s.node_types,
      problems: s.problems, valid: s.valid, graph: s.graph, renames: [], dirty: false,
    });
    $('yaml').textContent = s.yaml;
    $('add-type').replaceChildren(...s.node_types.map((t) => Object.assign(document.createElement('option'), { value: t, textContent: t })));
    studio.rehearsal = new Rehearsal({ state, graph, edited, message, errorText, scripts: s.scripts });
    remember();
    pluginDatalists(s.plugins);
    renderLegend();
    renderFlowForm();
    redraw();
    if (!Object.keys(s.data).length && s.problems.length) {
      message(`${s.file} cannot be read: ${s.problems[0].message}. Fix: ${s.problems[0].fix}. Then reload this page.`);
    }
    document.body.dataset.ready = 'true';
  } catch (e) {
    message(errorText(e));
  }
}
load();
