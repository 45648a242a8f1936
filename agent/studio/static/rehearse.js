// Rehearsed calls: a caller script run to the end, or the person at the page playing the caller turn by
// turn. The server runs `voice-agent simulate`'s simulator; the page shows its lines and lights the path.
import { post } from './api.js';

const $ = (id) => document.getElementById(id);
const STEP_MS = 250;  // between the steps of a replayed script

export class Rehearsal {
  constructor({ state, graph, edited, message, errorText, scripts }) {
    Object.assign(this, { state, graph, edited, message, errorText, scripts });
    this.chat = null;
    this.path = [];
    const select = $('r-script');
    select.replaceChildren(...scripts.map((s) => {
      const option = document.createElement('option');
      option.value = s.name;
      option.textContent = s.error ? `${s.name} (cannot run: see its file)` : `${s.name}${s.description ? ` — ${s.description}` : ''}`;
      option.disabled = Boolean(s.error);
      return option;
    }));
    select.addEventListener('change', () => this.scriptChosen());
    this.scriptChosen();
    $('r-run').addEventListener('click', () => this.runScript());
    $('r-start').addEventListener('click', () => this.startChat());
    $('r-send').addEventListener('click', () => this.say($('r-say').value));
    $('r-say').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); this.say($('r-say').value); } });
    $('r-silence').addEventListener('click', () => this.say(''));
    $('r-press').addEventListener('click', () => this.press($('r-keys').value));
    $('r-keys').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); this.press($('r-keys').value); } });
    $('r-hangup').addEventListener('click', () => this.send({ hang_up: true }));
  }

  scriptChosen() {
    const script = this.scripts.find((s) => s.name === $('r-script').value);
    if (!script) return;
    $('r-at').placeholder = script.at || 'now, or 2026-11-25T10:00:00+01:00';
    $('r-from').placeholder = script.caller_number || '+15555550100';
  }

  setup() {
    return {
      ...this.edited(),
      at: $('r-at').value.trim() || null,
      caller_number: $('r-from').value.trim() || null,
      answer_calls: $('r-answer').checked,
    };
  }

  reset() {
    $('transcript').replaceChildren();
    $('outcome').replaceChildren();
    this.path = [];
    this.graph.clearPath();
    this.showPath();
  }

  showPath() {
    $('r-path').textContent = this.path.length ? `Path: ${this.path.join(' → ')}` : '';
    $('r-path').dataset.nodes = this.path.join(' ');
    this.graph.showPath(this.path);
  }

  show(events) {
    const list = $('transcript');
    for (const event of events) {
      const li = document.createElement('li');
      if (event.kind === 'step') {
        $('r-waits').textContent = event.waits_for ? `The call waits for ${event.waits_for}.` : '';
        this.path = event.nodes;
        this.showPath();
        if (!event.entered.length) continue;
        li.className = 'line step';
        li.dataset.nodes = event.entered.join(' ');
        li.textContent = `→ ${event.entered.join(' → ')}`;
      } else if (event.kind === 'line') {
        li.className = `line ${event.speaker}`;
        const who = { agent: 'Agent', caller: 'Caller', system: '·' }[event.speaker] || event.speaker;
        li.innerHTML = '<b></b> <span></span>';
        li.querySelector('b').textContent = `${who}:`;
        li.querySelector('span').textContent = event.text || '(silence)';
      } else if (event.kind === 'tool') {
        li.className = 'line tool';
        const refused = event.result && event.result.error ? ` → refused: ${event.result.error}` : '';
        li.textContent = `tool ${event.name}(${JSON.stringify(event.arguments)})${refused}`;
      } else if (event.kind === 'fields') {
        li.className = 'line tool';
        li.textContent = `saved: ${Object.entries(event.saved).map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join(', ') : v}`).join('; ')}`;
      } else if (event.kind === 'decided') {
        li.className = 'line tool';
        li.textContent = `decided: ${[event.intent && `intent ${event.intent}`, event.branch && `branch ${event.branch}`].filter(Boolean).join(', ')}`;
      } else if (event.kind === 'facts') {
        li.className = 'line tool';
        li.textContent = `facts used: ${event.used.join('; ')}`;
      } else continue;
      list.append(li);
    }
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  // A script's call shown step by step, so the path lights up node by node (at once for reduced motion).
  async replay(events) {
    const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    let from = 0;
    for (let i = 0; i <= events.length; i++) {
      if (i === events.length || (events[i].kind === 'step' && i > from)) {
        this.show(events.slice(from, i));
        from = i;
        if (!still && i < events.length) await new Promise((resolve) => setTimeout(resolve, STEP_MS));
      }
    }
  }

  showOutcome(outcome, expect) {
    const box = $('outcome');
    box.replaceChildren();
    if (!outcome) return;
    this.path = outcome.nodes;
    this.showPath();
    const dl = document.createElement('dl');
    const add = (term, value) => {
      if (value === null || value === undefined || value === '' || (Array.isArray(value) && !value.length)) return;
      const dt = document.createElement('dt'); dt.textContent = term;
      const dd = document.createElement('dd'); dd.textContent = Array.isArray(value) ? value.join('; ') : String(value);
      dl.append(dt, dd);
    };
    add('intent', outcome.intent);
    add('branch', outcome.branch);
    add('ended', outcome.end_reason);
    add('nodes', outcome.nodes.join(' → '));
    for (const [k, v] of Object.entries(outcome.fields)) add(k, Array.isArray(v) ? v.join(', ') : v);
    add('facts used', outcome.facts_used);
    add('dialled', outcome.dials.map((d) => `${d.name || ''} ${d.number || ''}${d.answered ? ' (answered)' : ''}`.trim()));
    add('alerts', outcome.alerts.map((a) => `[${a.priority}] ${a.summary}`));
    add('briefing', outcome.briefing);
    const h = document.createElement('h3'); h.textContent = 'Outcome';
    box.append(h, dl);
    if (expect) {
      const p = document.createElement('p');
      p.className = expect.length ? 'expect bad' : 'expect good';
      p.textContent = expect.length ? `The script's expect block does not match: ${expect.join('; ')}` : "The script's expect block matches.";
      box.append(p);
    }
  }

  async runScript() {
    this.endChat();
    this.reset();
    this.message(null);
    try {
      const answer = await post('/api/rehearse', { ...this.setup(), script: $('r-script').value });
      await this.replay(answer.events);
      this.showOutcome(answer.outcome, answer.expect);
    } catch (e) { this.fail(e); }
  }

  fail(e) {
    const detail = e.detail && typeof e.detail === 'object' ? e.detail : null;
    this.message(detail && detail.message ? `${detail.message}.` : this.errorText(e));
  }

  async startChat() {
    this.endChat();
    this.reset();
    this.message(null);
    try {
      const answer = await post('/api/chat', this.setup());
      this.chat = answer.chat;
      $('chat-controls').hidden = false;
      this.settle(answer);
      $('r-say').focus();
    } catch (e) { this.fail(e); }
  }

  settle(answer) {
    this.show(answer.events);
    if (answer.error) this.message(answer.error);
    if (answer.ended) {
      this.showOutcome(answer.outcome, null);
      this.chat = null;
      $('chat-controls').hidden = true;
      $('r-start').focus();
    }
  }

  say(text) {
    $('r-say').value = '';
    return this.send({ text });
  }

  press(keys) {
    $('r-keys').value = '';
    if (!/^[0-9*#]+$/.test(keys)) { this.message('Keys are 0-9, * and #.'); return null; }
    return this.send({ dtmf: keys });
  }

  async send(turn) {
    if (!this.chat) return;
    try { this.settle(await post(`/api/chat/${encodeURIComponent(this.chat)}`, turn)); } catch (e) { this.fail(e); }
  }

  endChat() {
    if (this.chat) post(`/api/chat/${encodeURIComponent(this.chat)}`, { hang_up: true }).catch(() => {});
    this.chat = null;
    $('chat-controls').hidden = true;
  }
}
