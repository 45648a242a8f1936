// The flow drawn with Cytoscape.js and laid out by dagre (vendored; see vendor/VENDORED.md).
import cytoscape from './vendor/cytoscape/cytoscape.esm.min.mjs';
import dagre from './vendor/cytoscape-dagre/cytoscape-dagre.min.mjs';

cytoscape.use(dagre);

export const END_ID = '\u0000end';
const MISSING = '\u0000missing:';

// Colour and shape per node type: decisions are diamonds, the AI agent a wide box, endings ellipses.
export const NODE_STYLES = {
  block_numbers: { color: '#b45309', shape: 'diamond', label: 'block numbers' },
  support_hours: { color: '#7c3aed', shape: 'diamond', label: 'support hours' },
  ivr_menu: { color: '#0e7490', shape: 'diamond', label: 'IVR menu' },
  pin_code: { color: '#a16207', shape: 'diamond', label: 'PIN code' },
  audio_message: { color: '#2563eb', shape: 'round-rectangle', label: 'message' },
  ai_agent: { color: '#15803d', shape: 'rectangle', label: 'AI agent' },
  create_alert: { color: '#c2410c', shape: 'tag', label: 'alert' },
  route_call: { color: '#0f766e', shape: 'hexagon', label: 'route call' },
  voicemail: { color: '#6d28d9', shape: 'barrel', label: 'voicemail' },
  hangup: { color: '#b91c1c', shape: 'round-octagon', label: 'hang up' },
};

function style() {
  const rules = [
    { selector: 'node', style: {
      label: 'data(label)', 'text-wrap': 'wrap', 'text-max-width': 150, 'font-size': 11, 'text-valign': 'center',
      'text-halign': 'center', width: 170, height: 54, 'background-color': '#64748b', color: '#fff', 'border-width': 2,
      'border-color': '#1e293b', shape: 'round-rectangle',
    } },
    { selector: 'edge', style: {
      label: 'data(label)', 'font-size': 10, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 1.5,
      'line-color': '#94a3b8', 'target-arrow-color': '#94a3b8', 'text-background-color': '#fff', 'text-background-opacity': 0.9,
      'text-background-padding': 2, color: '#334155', 'text-wrap': 'wrap',
    } },
    { selector: 'node.end', style: { shape: 'ellipse', width: 44, height: 44, 'background-color': '#1e293b', label: 'end' } },
    { selector: 'node.missing', style: {
      'background-color': '#fff', color: '#b91c1c', 'border-color': '#b91c1c', 'border-style': 'dashed', shape: 'round-rectangle',
    } },
    { selector: 'edge.dangling', style: { 'line-color': '#dc2626', 'target-arrow-color': '#dc2626', 'line-style': 'dashed', color: '#b91c1c' } },
    { selector: 'node.unreachable', style: { opacity: 0.55, 'border-style': 'dashed', 'border-color': '#64748b' } },
    { selector: 'node.problem', style: { 'border-color': '#dc2626', 'border-width': 4 } },
    { selector: 'node.start', style: { 'border-color': '#0f172a', 'border-width': 4, 'border-style': 'double' } },
    { selector: 'node:selected', style: { 'overlay-color': '#f59e0b', 'overlay-opacity': 0.35, 'overlay-padding': 6 } },
    { selector: 'node.visited', style: { 'underlay-color': '#facc15', 'underlay-opacity': 0.9, 'underlay-padding': 8 } },
    { selector: 'node.current', style: { 'underlay-color': '#f97316' } },
    { selector: 'edge.visited', style: { 'line-color': '#eab308', 'target-arrow-color': '#eab308', width: 4 } },
  ];
  for (const [type, s] of Object.entries(NODE_STYLES)) {
    rules.splice(1, 0, { selector: `node.t-${type}`, style: { 'background-color': s.color, shape: s.shape } });
  }
  return rules;
}

function label(node) {
  const kind = NODE_STYLES[node.type] ? NODE_STYLES[node.type].label : (node.type || 'no type');
  return node.name ? `${node.id} · ${kind}\n${node.name}` : `${node.id}\n${kind}`;
}

function elements(graph, problemNodes) {
  const out = [];
  const unreachable = new Set(graph.unreachable);
  let ends = false;
  const missing = new Set();
  for (const node of graph.nodes) {
    const classes = [`t-${node.type}`];
    if (unreachable.has(node.id)) classes.push('unreachable');
    if (problemNodes.has(node.id)) classes.push('problem');
    if (node.id === graph.start) classes.push('start');
    out.push({ group: 'nodes', data: { id: node.id, label: label(node), type: node.type }, classes: classes.join(' ') });
  }
  // Branches from one node to the same target are one arrow with every outcome on its label.
  const grouped = new Map();
  for (const edge of graph.edges) {
    let target = edge.target;
    if (target === null) { target = END_ID; ends = true; }
    else if (edge.dangling) {
      if (!missing.has(target)) {
        missing.add(target);
        out.push({ group: 'nodes', data: { id: MISSING + target, label: `${target}\nmissing node` }, classes: 'missing' });
      }
      target = MISSING + target;
    }
    const key = `${edge.source}\u0001${target}`;
    if (!grouped.has(key)) grouped.set(key, { source: edge.source, target, labels: [], paths: [], dangling: edge.dangling });
    grouped.get(key).labels.push(edge.label);
    grouped.get(key).paths.push(edge.path);
  }
  for (const [key, edge] of grouped) {
    out.push({ group: 'edges', data: { id: `e:${key}`, source: edge.source, target: edge.target, label: edge.labels.join('\n'), paths: edge.paths }, classes: edge.dangling ? 'dangling' : '' });
  }
  if (ends) out.push({ group: 'nodes', data: { id: END_ID, label: 'end' }, classes: 'end' });
  return out;
}

export class FlowGraph {
  constructor(container, onSelect, onConnect) {
    this.cy = cytoscape({ container, style: style(), boxSelectionEnabled: false, autounselectify: false });
    this.selected = null;
    this.cy.on('tap', 'node', (event) => {
      const id = event.target.id();
      if (id.startsWith('\u0000')) return;
      // Shift+click on another node: connect a branch of the selected node to it.
      if (event.originalEvent && event.originalEvent.shiftKey && this.selected && this.selected !== id) onConnect(this.selected, id);
      else onSelect(id);
    });
    // A branch arrow opens its node's form at the branch's field.
    this.cy.on('tap', 'edge', (event) => onSelect(event.target.data('source'), event.target.data('paths')[0]));
    this.shape = '';
  }

  render(graph, problems) {
    const problemNodes = new Set(problems.filter((p) => p.node).map((p) => p.node));
    const els = elements(graph, problemNodes);
    const shape = JSON.stringify(els.map((e) => [e.data.id, e.data.source, e.data.target, e.data.label]));
    const selected = this.cy.$('node:selected').map((n) => n.id());
    if (shape === this.shape) {  // same structure: only classes and labels change, positions stay
      for (const el of els) {
        const found = this.cy.getElementById(el.data.id);
        const keep = ['visited', 'current'].filter((c) => found.hasClass(c));
        found.data(el.data);
        found.classes([el.classes, ...keep].join(' '));
      }
      return;
    }
    this.shape = shape;
    this.cy.elements().remove();
    this.cy.add(els);
    this.cy.layout({ name: 'dagre', rankDir: 'TB', nodeSep: 30, rankSep: 60, edgeSep: 10, animate: false, fit: true, padding: 20 }).run();
    for (const id of selected) this.cy.getElementById(id).select();
  }

  select(id) {
    this.selected = id;
    this.cy.$(':selected').unselect();
    const node = this.cy.getElementById(id);
    if (node.nonempty()) {
      node.select();
      const b = node.renderedBoundingBox();
      if (b.x1 < 0 || b.y1 < 0 || b.x2 > this.cy.width() || b.y2 > this.cy.height()) {
        this.cy.animate({ center: { eles: node } }, { duration: 150 });  // brought into view only when out of it
      }
    }
  }

  clearPath() {
    this.cy.elements().removeClass('visited current');
  }

  // Light up the nodes a call passed, in order; the edge between two consecutive nodes too.
  showPath(nodes) {
    this.clearPath();
    nodes.forEach((id, i) => {
      this.cy.getElementById(id).addClass('visited');
      if (i > 0) this.cy.edges(`[source = "${CSS.escape(nodes[i - 1])}"][target = "${CSS.escape(id)}"]`).addClass('visited');
    });
    if (nodes.length) this.cy.getElementById(nodes[nodes.length - 1]).addClass('current');
  }

  visited() {
    return this.cy.nodes('.visited').map((n) => n.id());
  }

  png() {
    return this.cy.png({ full: true, output: 'blob', bg: '#ffffff', scale: 2 });
  }

  // An SVG of what is drawn: Cytoscape's own positions and edge endpoints, written out as SVG shapes.
  svg() {
    const box = this.cy.elements().boundingBox();
    const pad = 20;
    const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="${box.x1 - pad} ${box.y1 - pad} ${box.w + 2 * pad} ${box.h + 2 * pad}" font-family="sans-serif">`,
      '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker></defs>'];
    for (const edge of this.cy.edges()) {
      const s = edge.sourceEndpoint(); const t = edge.targetEndpoint(); const m = edge.midpoint();
      const color = edge.hasClass('dangling') ? '#dc2626' : '#64748b';
      parts.push(`<path d="M${s.x},${s.y} Q${2 * m.x - (s.x + t.x) / 2},${2 * m.y - (s.y + t.y) / 2} ${t.x},${t.y}" fill="none" stroke="${color}" stroke-width="1.5"${edge.hasClass('dangling') ? ' stroke-dasharray="5,4"' : ''} marker-end="url(#arrow)"/>`);
      parts.push(`<text x="${m.x}" y="${m.y}" font-size="10" text-anchor="middle" fill="#334155" paint-order="stroke" stroke="#fff" stroke-width="3">${esc(edge.data('label'))}</text>`);
    }
    for (const node of this.cy.nodes()) {
      const p = node.position(); const w = node.width(); const h = node.height();
      const fill = node.style('background-color'); const stroke = node.style('border-color');
      const shape = node.style('shape');
      if (shape === 'ellipse') parts.push(`<ellipse cx="${p.x}" cy="${p.y}" rx="${w / 2}" ry="${h / 2}" fill="${fill}" stroke="${stroke}" stroke-width="2"/>`);
      else if (shape === 'diamond') parts.push(`<polygon points="${p.x},${p.y - h / 2} ${p.x + w / 2},${p.y} ${p.x},${p.y + h / 2} ${p.x - w / 2},${p.y}" fill="${fill}" stroke="${stroke}" stroke-width="2"/>`);
      else parts.push(`<rect x="${p.x - w / 2}" y="${p.y - h / 2}" width="${w}" height="${h}" rx="${shape.startsWith('round') ? 8 : 0}" fill="${fill}" stroke="${stroke}" stroke-width="2"/>`);
      const lines = String(node.data('label')).split('\n');
      lines.forEach((line, i) => parts.push(`<text x="${p.x}" y="${p.y + (i - (lines.length - 1) / 2) * 13 + 4}" font-size="11" text-anchor="middle" fill="${node.style('color')}">${esc(line)}</text>`));
    }
    parts.push('</svg>');
    return new Blob([parts.join('\n')], { type: 'image/svg+xml' });
  }
}
