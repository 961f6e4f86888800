// How `sluice lineage` shows a walk: an indented tree for the terminal, or a picture as Graphviz DOT or Mermaid
// (one box per dataset, one vertex per column, edges from input to output labelled with their kind).
import type { LineageAnswer, LineageNode, LineageTreeNode } from './lineage.ts';

function columnLabel(node: { readonly kind: string; readonly name: string }, column: string): string {
  return column === '' ? `${node.kind} ${node.name}` : `${node.name}.${column}`;
}

/** The walk as a tree: each line names a column, how it relates to its parent, and (first time) what its dataset is. */
export function renderLineageTree(answer: LineageAnswer): string {
  const details = new Map(answer.nodes.map((n) => [n.id, n]));
  const described = new Set<string>();
  const lines: string[] = [];
  const line = (t: LineageTreeNode, prefix: string, branch: string): void => {
    const info = details.get(t.node);
    let text = `${t.via === null ? '' : `${t.via}  `}${columnLabel(t, t.column)}`;
    if (info !== undefined && t.column !== '' && !described.has(t.node)) {
      described.add(t.node);
      text += `  (${info.kind}: ${info.detail})`;
    }
    if (info?.partitionColumns.includes(t.column) === true) text += '  (partition key)';
    if (t.repeated && t.column !== '') text += '  (see above)';
    lines.push(`${prefix}${branch}${text}`);
    const childPrefix = prefix + (branch === '' ? '' : branch === '└─ ' ? '   ' : '│  ');
    t.children.forEach((child, i) => line(child, childPrefix, i === t.children.length - 1 ? '└─ ' : '├─ '));
  };
  for (const root of answer.roots) line(root, '', '');
  if (!answer.rows && answer.roots.length > 0 && answer.roots.every((r) => r.children.length === 0)) {
    lines.push(`(no ${answer.direction} values; --rows also follows the filter and join columns that decide rows)`);
  }
  if (answer.roots.length === 0) lines.push(`${answer.target}: no columns in its lineage`);
  for (const note of answer.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

interface Vertex { readonly id: string; readonly node: LineageNode | undefined; readonly column: string }

/** Every column vertex the walk reached, grouped by dataset, with stable ids. */
function vertices(answer: LineageAnswer): { byKey: Map<string, Vertex>; groups: Map<string, Vertex[]> } {
  const nodes = new Map(answer.nodes.map((n) => [n.id, n]));
  const byKey = new Map<string, Vertex>();
  const groups = new Map<string, Vertex[]>();
  const add = (node: string, column: string): void => {
    const key = `${node}\u0000${column}`;
    if (byKey.has(key)) return;
    const vertex = { id: `c${byKey.size}`, node: nodes.get(node), column };
    byKey.set(key, vertex);
    groups.set(node, [...(groups.get(node) ?? []), vertex]);
  };
  const visit = (t: LineageTreeNode): void => {
    add(t.node, t.column);
    t.children.forEach(visit);
  };
  answer.roots.forEach(visit);
  for (const edge of answer.edges) {
    add(edge.from.node, edge.from.column);
    add(edge.to.node, edge.to.column);
  }
  return { byKey, groups };
}

const dotString = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function renderLineageDot(answer: LineageAnswer): string {
  const { byKey, groups } = vertices(answer);
  const lines = ['digraph lineage {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  let cluster = 0;
  for (const [id, members] of groups) {
    const node = members[0]?.node;
    lines.push(`  subgraph cluster_${cluster++} {`, `    label=${dotString(node === undefined ? id : `${node.kind} ${node.name}`)};`);
    for (const v of members) lines.push(`    ${v.id} [label=${dotString(v.column === '' ? (node?.detail ?? id) : v.column)}];`);
    lines.push('  }');
  }
  for (const edge of dedupe(answer)) {
    const from = byKey.get(`${edge.from.node}\u0000${edge.from.column}`)?.id ?? '';
    const to = byKey.get(`${edge.to.node}\u0000${edge.to.column}`)?.id ?? '';
    lines.push(`  ${from} -> ${to} [label=${dotString(edge.kind)}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

const mermaidText = (text: string): string => `"${text.replace(/"/g, '#quot;')}"`;

export function renderLineageMermaid(answer: LineageAnswer): string {
  const { byKey, groups } = vertices(answer);
  const lines = ['flowchart LR'];
  let group = 0;
  for (const [id, members] of groups) {
    const node = members[0]?.node;
    lines.push(`  subgraph g${group++}[${mermaidText(node === undefined ? id : `${node.kind} ${node.name}`)}]`);
    for (const v of members) lines.push(`    ${v.id}[${mermaidText(v.column === '' ? (node?.detail ?? id) : v.column)}]`);
    lines.push('  end');
  }
  for (const edge of dedupe(answer)) {
    const from = byKey.get(`${edge.from.node}\u0000${edge.from.column}`)?.id ?? '';
    const to = byKey.get(`${edge.to.node}\u0000${edge.to.column}`)?.id ?? '';
    lines.push(`  ${from} -->|${edge.kind}| ${to}`);
  }
  return `${lines.join('\n')}\n`;
}

function dedupe(answer: LineageAnswer): LineageAnswer['edges'] {
  const seen = new Set<string>();
  return answer.edges.filter((e) => {
    const key = `${e.from.node}\u0000${e.from.column}\u0000${e.to.node}\u0000${e.to.column}\u0000${e.kind}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
