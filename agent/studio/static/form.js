// Forms generated from the flow's JSON Schema (pydantic's model_json_schema()): every node type and
// option is editable without code in the page. The form edits the flow's plain data in place and only
// writes keys the user sets; an emptied field is removed, so the model's default applies again.

let uid = 0;
const nextId = (stem) => `${stem}-${++uid}`;

export function resolve(root, schema) {
  let s = schema || {};
  while (s.$ref) s = root.$defs[s.$ref.split('/').pop()] || {};
  return s;
}

// anyOf [X, null] -> X marked nullable, keeping the outer description/default/title.
function effective(root, schema) {
  const outer = resolve(root, schema);
  if (outer.anyOf) {
    const rest = outer.anyOf.filter((s) => resolve(root, s).type !== 'null');
    if (rest.length === 1) {
      const inner = resolve(root, rest[0]);
      return { ...inner, nullable: true, title: outer.title || inner.title, description: outer.description || inner.description, default: outer.default };
    }
  }
  return outer;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function defaultText(schema) {
  if (schema.default === undefined || schema.default === null) return '';
  if (typeof schema.default === 'object') return JSON.stringify(schema.default);
  return String(schema.default);
}

function human(key) {
  return String(key).replace(/_/g, ' ');
}

const SINGULAR = { intents: 'intent', options: 'key', messages: 'message', languages: 'language', gathers: 'gather', sources: 'source', targets: 'target', hours: 'hours window' };
const one = (key) => SINGULAR[key] || human(key);

// The JSON text of a value the schema-driven widgets cannot show (a list where the schema says mapping...).
function rawEditor(ctx, parent, key, path, labelId) {
  const area = el('textarea', { rows: 3, 'aria-labelledby': labelId, 'data-input-path': JSON.stringify(path), spellcheck: 'false' });
  area.value = JSON.stringify(parent[key]);
  area.addEventListener('change', () => {
    try { parent[key] = JSON.parse(area.value); area.removeAttribute('aria-invalid'); } catch { parent[key] = area.value; }
    ctx.changed(path);
  });
  return area;
}

function scalarInput(ctx, parent, key, schema, path, labelId) {
  const current = parent[key];
  const set = (value) => {
    if (value === undefined) delete parent[key]; else parent[key] = value;
    ctx.changed(path);
  };
  const common = { 'aria-labelledby': labelId, 'data-input-path': JSON.stringify(path) };
  if (ctx.isBranch(path)) {
    const input = el('input', { ...common, list: ctx.nodeListId, autocomplete: 'off', placeholder: '(empty: the call ends here)' });
    input.value = current === null || current === undefined ? '' : String(current);
    input.addEventListener('input', () => set(input.value === '' ? (key in parent && parent[key] === null ? null : undefined) : input.value));
    return input;
  }
  if (schema.enum || schema.const !== undefined) {
    const options = schema.enum || [schema.const];
    const select = el('select', common);
    select.append(el('option', { value: '', text: schema.default !== undefined ? `(default: ${defaultText(schema)})` : '(not set)' }));
    for (const option of options) select.append(el('option', { value: String(option), text: String(option) }));
    if (current !== undefined && current !== null && !options.map(String).includes(String(current))) {
      select.append(el('option', { value: String(current), text: `${current} (not valid)` }));
    }
    select.value = current === undefined || current === null ? '' : String(current);
    select.addEventListener('change', () => set(select.value === '' ? undefined : select.value));
    return select;
  }
  if (schema.type === 'boolean') {
    const select = el('select', common);
    select.append(el('option', { value: '', text: `(default: ${defaultText(schema) || 'not set'})` }), el('option', { value: 'true', text: 'yes' }), el('option', { value: 'false', text: 'no' }));
    select.value = current === true ? 'true' : current === false ? 'false' : '';
    select.addEventListener('change', () => set(select.value === '' ? undefined : select.value === 'true'));
    return select;
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const input = el('input', { ...common, inputmode: 'decimal', autocomplete: 'off', placeholder: defaultText(schema) });
    input.value = current === undefined || current === null ? '' : String(current);
    input.addEventListener('input', () => {
      const text = input.value.trim();
      if (text === '') return set(undefined);
      const pattern = schema.type === 'integer' ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
      set(pattern.test(text) ? Number(text) : text);  // not a number: sent as written, the checks say why
    });
    return input;
  }
  const suggestions = ctx.suggest ? ctx.suggest(path) : null;  // installed plugins' names, where a field names one
  if (suggestions) common.list = suggestions;
  const long = !suggestions && ((schema.maxLength || 0) >= 1000 || ['text', 'prompt', 'greeting', 'question', 'description', 'summary', 'hold_message'].includes(key));
  const input = el(long ? 'textarea' : 'input', { ...common, rows: long ? 3 : undefined, autocomplete: 'off', placeholder: defaultText(schema) || (schema.format === 'time' ? 'HH:MM' : '') });
  input.value = current === undefined || current === null ? '' : String(current);
  input.addEventListener('input', () => set(input.value === '' ? undefined : input.value));
  return input;
}

function checkboxes(ctx, parent, key, items, path, labelId) {
  const box = el('div', { class: 'checks', role: 'group', 'aria-labelledby': labelId, 'data-input-path': JSON.stringify(path) });
  const chosen = new Set(Array.isArray(parent[key]) ? parent[key].map(String) : []);
  for (const option of items.enum) {
    const input = el('input', { type: 'checkbox', value: option });
    input.checked = chosen.has(String(option));
    input.addEventListener('change', () => {
      const now = items.enum.filter((o) => (o === option ? input.checked : (Array.isArray(parent[key]) ? parent[key] : []).includes(o)));
      parent[key] = now;
      ctx.changed(path);
    });
    box.append(el('label', { class: 'check' }, input, document.createTextNode(` ${option}`)));
  }
  return box;
}

function lineList(ctx, parent, key, path, labelId) {
  const area = el('textarea', { rows: 3, 'aria-labelledby': labelId, 'data-input-path': JSON.stringify(path), placeholder: 'one per line' });
  area.value = (parent[key] || []).join('\n');
  area.addEventListener('input', () => {
    const lines = area.value.split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines.length === 0 && !(key in parent)) return;
    parent[key] = lines;
    ctx.changed(path);
  });
  return area;
}

function objectList(ctx, parent, key, items, path) {
  const wrap = el('div', { class: 'list' });
  const list = () => (Array.isArray(parent[key]) ? parent[key] : []);
  const draw = () => {
    wrap.replaceChildren();
    list().forEach((item, i) => {
      const itemPath = [...path, i];
      const title = isObject(item) ? (item.name || item.type || item.id || `#${i + 1}`) : String(item);
      const box = el('fieldset', { class: 'item', 'data-path': JSON.stringify(itemPath) }, el('legend', { text: `${one(key)} ${i + 1}: ${title}` }));
      if (isObject(item)) renderObject(ctx, box, item, items, itemPath);
      else {
        const id = nextId('f');
        box.append(el('label', { id, text: 'name' }));
        const input = el('input', { 'aria-labelledby': id, 'data-input-path': JSON.stringify(itemPath), list: ctx.suggest ? ctx.suggest([...itemPath, 'name']) : null });
        input.value = String(item);
        input.addEventListener('input', () => { list()[i] = input.value; ctx.changed(itemPath); });
        box.append(input);
      }
      box.append(el('button', { type: 'button', class: 'remove', text: `Remove ${one(key)} ${i + 1}`, onclick: () => { list().splice(i, 1); ctx.changed(path); draw(); } }));
      box.append(el('div', { class: 'field-error', 'data-error-for': JSON.stringify(itemPath) }));
      wrap.append(box);
    });
    wrap.append(el('button', { type: 'button', class: 'add', text: `Add ${one(key)}`, onclick: () => {
      if (!Array.isArray(parent[key])) parent[key] = [];
      const required = resolve(ctx.root, items).required || [];
      parent[key].push(Object.fromEntries(required.map((r) => [r, ''])));
      ctx.changed(path);
      draw();
      const inputs = wrap.querySelectorAll('fieldset.item:last-of-type input, fieldset.item:last-of-type select');
      if (inputs.length) inputs[0].focus();
    } }));
  };
  draw();
  return wrap;
}

// A mapping whose keys the user chooses: intents, IVR keys, messages, languages, a plugin's own options.
function keyValues(ctx, parent, key, valueSchema, path, { extraOf = null } = {}) {
  const wrap = el('div', { class: 'kv' });
  const target = () => (extraOf ? parent : parent[key]);
  const known = extraOf ? new Set(Object.keys(extraOf.properties || {})) : new Set();
  const draw = () => {
    wrap.replaceChildren();
    const obj = target() || {};
    for (const k of Object.keys(obj)) {
      if (known.has(k)) continue;
      const entryPath = extraOf ? [...path, k] : [...path, k];
      const row = el('div', { class: 'kv-row', 'data-path': JSON.stringify(entryPath) });
      const keyInput = el('input', { class: 'kv-key', 'aria-label': `${one(key)} name: ${k}`, value: k, autocomplete: 'off' });
      keyInput.addEventListener('change', () => {
        const renamed = keyInput.value.trim();
        if (!renamed || renamed === k || renamed in obj) { keyInput.value = k; return; }
        const entries = Object.entries(obj).map(([kk, vv]) => [kk === k ? renamed : kk, vv]);
        for (const kk of Object.keys(obj)) delete obj[kk];
        for (const [kk, vv] of entries) obj[kk] = vv;
        ctx.changed(path);
        draw();
      });
      const id = nextId('kv');
      row.append(el('span', { id, class: 'sr-only', text: `${one(key)} ${k}` }), keyInput);
      const vs = valueSchema ? effective(ctx.root, valueSchema) : null;
      if (vs && (vs.type === 'object' || vs.properties) && isObject(obj[k])) {
        const box = el('fieldset', { class: 'item' }, el('legend', { text: k }));
        renderObject(ctx, box, obj[k], vs, entryPath);
        row.append(box);
      } else if (vs && (vs.type === 'string' || vs.type === 'number' || vs.type === 'integer' || vs.type === 'boolean' || vs.enum) && !isObject(obj[k]) && !Array.isArray(obj[k])) {
        row.append(scalarInput(ctx, obj, k, vs, entryPath, id));
      } else {
        // A plugin option (any YAML value): text, or JSON for numbers, lists and mappings.
        const input = el('input', { 'aria-labelledby': id, 'data-input-path': JSON.stringify(entryPath), autocomplete: 'off' });
        input.value = typeof obj[k] === 'string' ? obj[k] : JSON.stringify(obj[k]);
        input.addEventListener('input', () => {
          let value = input.value;
          if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(value.trim())) { try { value = JSON.parse(value); } catch { /* text */ } }
          obj[k] = value;
          ctx.changed(entryPath);
        });
        row.append(input);
      }
      row.append(el('button', { type: 'button', class: 'remove', text: `Remove ${k}`, onclick: () => { delete obj[k]; ctx.changed(path); draw(); } }));
      row.append(el('div', { class: 'field-error', 'data-error-for': JSON.stringify(entryPath) }));
      wrap.append(row);
    }
    const newKey = el('input', {
      class: 'kv-new', 'aria-label': `new ${extraOf ? 'option' : one(key)} name`, placeholder: extraOf ? 'option name' : `new ${one(key)}`,
      autocomplete: 'off', list: !extraOf && ctx.suggest ? ctx.suggest([...path, '*key']) : null,
    });
    const add = () => {
      const k = newKey.value.trim();
      if (!k) return;
      if (!extraOf && !isObject(parent[key])) parent[key] = {};
      const obj = target();
      if (k in obj) return;
      const vs = valueSchema ? effective(ctx.root, valueSchema) : null;
      obj[k] = vs && vs.type === 'object' ? {} : (ctx.isBranch([...path, k]) ? null : '');
      ctx.changed(path);
      draw();
      const row = [...wrap.querySelectorAll('.kv-row')].find((r) => r.querySelector('.kv-key').value === k);
      const focus = row && row.querySelector('[data-input-path]');
      if (focus) focus.focus();
    };
    newKey.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } });
    wrap.append(el('div', { class: 'kv-add' }, newKey, el('button', { type: 'button', text: extraOf ? 'Add option' : `Add ${one(key)}`, onclick: add })));
  };
  draw();
  return wrap;
}

function renderField(ctx, container, parent, key, rawSchema, path) {
  const schema = effective(ctx.root, rawSchema);
  const labelId = nextId('f');
  const row = el('div', { class: 'field', 'data-path': JSON.stringify(path) });
  const title = el('label', { id: labelId, class: 'label', text: human(key) });
  if (schema.description) title.title = schema.description;
  row.append(title);
  const value = parent[key];
  const dict = schema.type === 'object' && !schema.properties && schema.additionalProperties && schema.additionalProperties !== true;
  let widget;
  if (dict) {
    widget = Array.isArray(value) ? rawEditor(ctx, parent, key, path, labelId) : keyValues(ctx, parent, key, schema.additionalProperties, path);
  } else if (schema.type === 'object' || schema.properties) {
    if (value !== undefined && !isObject(value)) widget = rawEditor(ctx, parent, key, path, labelId);
    else {
      const details = el('details', { class: 'group' }, el('summary', { text: human(key) }));
      if (value !== undefined && Object.keys(schema.properties || {}).length < 12) details.open = true;
      const box = el('div');
      // Written into the flow only once something in it is set: opening a section adds nothing to the file.
      const obj = isObject(value) ? value : {};
      const inner = { ...ctx, changed: (p) => { if (Object.keys(obj).length) parent[key] = obj; else delete parent[key]; ctx.changed(p); } };
      const fill = () => { if (!box.childElementCount) renderObject(inner, box, obj, schema, path); };
      details.addEventListener('toggle', () => { if (details.open) fill(); });
      if (details.open) fill();
      details.append(box);
      title.remove();
      widget = details;
    }
  } else if (schema.type === 'array') {
    const items = effective(ctx.root, schema.items || {});
    if (value !== undefined && !Array.isArray(value)) widget = rawEditor(ctx, parent, key, path, labelId);
    else if (items.enum) widget = checkboxes(ctx, parent, key, items, path, labelId);
    else if (items.type === 'object' || items.properties) widget = objectList(ctx, parent, key, items, path);
    else widget = lineList(ctx, parent, key, path, labelId);
  } else if (value !== undefined && value !== null && typeof value === 'object') {
    widget = rawEditor(ctx, parent, key, path, labelId);
  } else {
    widget = scalarInput(ctx, parent, key, schema, path, labelId);
  }
  row.append(widget);
  if (schema.description) row.append(el('div', { class: 'help', text: schema.description }));
  row.append(el('div', { class: 'field-error', 'data-error-for': JSON.stringify(path) }));
  container.append(row);
}

export function renderObject(ctx, container, obj, schema, path, { skip = [] } = {}) {
  schema = effective(ctx.root, schema);
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const keys = Object.keys(props).filter((k) => !skip.includes(k));
  // Required fields first, then what the file sets, then the rest (defaults apply).
  keys.sort((a, b) => (Number(required.has(b)) - Number(required.has(a))) || (Number(b in obj) - Number(a in obj)));
  for (const key of keys) renderField(ctx, container, obj, key, props[key], [...path, key]);
  const extra = Object.keys(obj).filter((k) => !(k in props) && !skip.includes(k));
  if (schema.additionalProperties === true) {
    const box = el('div', { class: 'field', 'data-path': JSON.stringify([...path, '*options']) }, el('div', { class: 'label', text: 'plugin options' }));
    box.append(keyValues(ctx, obj, 'option', null, path, { extraOf: schema }));
    container.append(box);
  } else {
    for (const key of extra) {  // keys the model does not know: shown so the checks' message has a place
      const row = el('div', { class: 'field unknown', 'data-path': JSON.stringify([...path, key]) }, el('div', { class: 'label', text: `${key} (unknown key)` }));
      row.append(el('code', { text: JSON.stringify(obj[key]) }));
      row.append(el('button', { type: 'button', class: 'remove', text: `Remove ${key}`, onclick: () => { delete obj[key]; ctx.changed([...path, key]); row.remove(); } }));
      row.append(el('div', { class: 'field-error', 'data-error-for': JSON.stringify([...path, key]) }));
      container.append(row);
    }
  }
}

// Put each problem under the deepest field it names that is on the form; returns how many were placed.
export function showErrors(container, problems, prefixLength = 0) {
  for (const slot of container.querySelectorAll('.field-error')) { slot.replaceChildren(); slot.removeAttribute('id'); }
  for (const input of container.querySelectorAll('[aria-invalid]')) { input.removeAttribute('aria-invalid'); input.removeAttribute('aria-describedby'); }
  const slots = new Map([...container.querySelectorAll('[data-error-for]')].map((s) => [s.dataset.errorFor, s]));
  let placed = 0;
  for (const problem of problems) {
    const field = problem.field.slice(prefixLength);
    for (let n = field.length; n >= 0; n--) {
      const key = JSON.stringify(field.slice(0, n).map((p) => (typeof p === 'number' ? p : String(p))));
      const slot = slots.get(key);
      if (!slot) continue;
      const id = slot.id || nextId('err');
      slot.id = id;
      slot.append(el('p', { class: 'error-text', text: `${problem.message}. Fix: ${problem.fix}` }));
      const input = [...container.querySelectorAll('[data-input-path]')].find((e) => e.dataset.inputPath === key);
      if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', id); }
      placed++;
      break;
    }
  }
  return placed;
}
