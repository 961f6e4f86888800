// A layered layout for the asset graph, in linear time per sweep: each node's column is its longest path from a
// root, rows are ordered by the mean row of their neighbours (a few sweeps down and up), columns centred.
// dagre and elkjs do more (edge crossings minimised globally) but take seconds at 1,000 nodes; this takes ms.
export interface LayoutInput {
  readonly nodes: readonly { readonly id: string }[];
  readonly edges: readonly { readonly from: string; readonly to: string }[];
}

export interface Placed {
  readonly x: number;
  readonly y: number;
}

export interface Layout {
  readonly positions: ReadonlyMap<string, Placed>;
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 46;
const GAP_X = 90;
const GAP_Y = 18;

export function layoutGraph(input: LayoutInput, sweeps = 4): Layout {
  const ids = input.nodes.map((n) => n.id);
  const known = new Set(ids);
  const parents = new Map<string, string[]>(ids.map((id) => [id, []]));
  const children = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of input.edges) {
    if (!known.has(e.from) || !known.has(e.to) || e.from === e.to) continue;
    parents.get(e.to)?.push(e.from);
    children.get(e.from)?.push(e.to);
  }
  // Longest path from a root, by Kahn's order; nodes on a cycle (none in a valid project) keep rank 0.
  const rank = new Map<string, number>(ids.map((id) => [id, 0]));
  const indegree = new Map(ids.map((id) => [id, parents.get(id)?.length ?? 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    for (const child of children.get(id) ?? []) {
      rank.set(child, Math.max(rank.get(child) ?? 0, (rank.get(id) ?? 0) + 1));
      const left = (indegree.get(child) ?? 1) - 1;
      indegree.set(child, left);
      if (left === 0) queue.push(child);
    }
  }
  const columns: string[][] = [];
  for (const id of ids) {
    const r = rank.get(id) ?? 0;
    (columns[r] ??= []).push(id);
  }
  const row = new Map<string, number>();
  const number = (): void => columns.forEach((col) => col.forEach((id, i) => row.set(id, i)));
  number();
  const mean = (id: string, neighbours: Map<string, string[]>): number => {
    const list = neighbours.get(id) ?? [];
    if (list.length === 0) return row.get(id) ?? 0;
    return list.reduce((sum, n) => sum + (row.get(n) ?? 0), 0) / list.length;
  };
  for (let s = 0; s < sweeps; s++) {
    const down = s % 2 === 0;
    const order = down ? columns : [...columns].reverse();
    for (const col of order) {
      const keyed = col.map((id) => ({ id, key: mean(id, down ? parents : children) }));
      keyed.sort((a, b) => a.key - b.key);
      col.splice(0, col.length, ...keyed.map((k) => k.id));
      col.forEach((id, i) => row.set(id, i));
    }
  }
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const positions = new Map<string, Placed>();
  columns.forEach((col, c) => {
    const offset = ((tallest - col.length) * (NODE_HEIGHT + GAP_Y)) / 2;
    col.forEach((id, i) => positions.set(id, { x: c * (NODE_WIDTH + GAP_X), y: offset + i * (NODE_HEIGHT + GAP_Y) }));
  });
  return { positions, width: Math.max(1, columns.length) * (NODE_WIDTH + GAP_X), height: tallest * (NODE_HEIGHT + GAP_Y) };
}
