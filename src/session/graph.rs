//! The session's two routing graphs as plain index graphs (buses feeding buses by `output` and
//! `sends`; tracks keying tracks through sidechains) and the questions asked of them: where the
//! loops are (validation reports them), an order that puts every bus after the buses feeding
//! it, and how deep each track's sidechain dependencies go (the engine schedules with those).
//! One implementation serves both.

use std::collections::BTreeSet;

/// Every loop of the directed graph `edges` (`(from, to)` over nodes `0..n`), found depth-first
/// from the lowest node, each once, at the edge that closes it: the loop's nodes in order and
/// the index of that edge.
pub fn cycles(n: usize, edges: &[(usize, usize)]) -> Vec<(Vec<usize>, usize)> {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    fn visit(
        b: usize,
        edges: &[(usize, usize)],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        found: &mut Vec<(Vec<usize>, usize)>,
    ) {
        state[b] = 1;
        stack.push(b);
        for (ei, e) in edges.iter().enumerate().filter(|(_, e)| e.0 == b) {
            match state[e.1] {
                0 => visit(e.1, edges, state, stack, found),
                1 => {
                    let start = stack.iter().position(|&x| x == e.1).unwrap_or(0);
                    found.push((stack[start..].to_vec(), ei));
                }
                _ => {}
            }
        }
        stack.pop();
        state[b] = 2;
    }
    let mut state = vec![0u8; n];
    let mut stack = Vec::new();
    let mut found = Vec::new();
    for b in 0..n {
        if state[b] == 0 {
            visit(b, edges, &mut state, &mut stack, &mut found);
        }
    }
    found
}

/// Nodes `0..n` ordered so that every node comes after every node with an edge into it
/// (Kahn's algorithm, the lowest ready index first, so the order never varies); `None` when
/// the graph has a loop.
pub fn topological_order(n: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut indeg = vec![0usize; n];
    for &(_, to) in edges {
        indeg[to] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(b) = ready.pop_first() {
        order.push(b);
        for &(_, to) in edges.iter().filter(|e| e.0 == b) {
            indeg[to] -= 1;
            if indeg[to] == 0 {
                ready.insert(to);
            }
        }
    }
    (order.len() == n).then_some(order)
}

/// Whether `to` is reached from `from` by following `deps` (node -> the nodes it depends on).
pub fn reaches(deps: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; deps.len()];
    let mut todo = vec![from];
    while let Some(t) = todo.pop() {
        if t == to {
            return true;
        }
        if !std::mem::replace(&mut seen[t], true) {
            todo.extend(&deps[t]);
        }
    }
    false
}

/// Depth of every node: 0 without dependencies, else one more than its deepest dependency
/// (`deps`: node -> the nodes it depends on); `None` when the dependencies loop.
pub fn depths(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    // usize::MAX: not yet known; usize::MAX - 1: being computed (a loop if met again).
    const UNKNOWN: usize = usize::MAX;
    const BUSY: usize = usize::MAX - 1;
    fn depth(i: usize, deps: &[Vec<usize>], memo: &mut [usize]) -> Option<usize> {
        match memo[i] {
            UNKNOWN => {}
            BUSY => return None,
            d => return Some(d),
        }
        memo[i] = BUSY;
        let mut d = 0;
        for &k in &deps[i] {
            d = d.max(depth(k, deps, memo)? + 1);
        }
        memo[i] = d;
        Some(d)
    }
    let mut memo = vec![UNKNOWN; deps.len()];
    (0..deps.len()).map(|i| depth(i, deps, &mut memo)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_orders_and_depths() {
        // 0 -> 1 -> 2, 3 -> 1: acyclic.
        let edges = [(0, 1), (1, 2), (3, 1)];
        assert!(cycles(4, &edges).is_empty());
        assert_eq!(topological_order(4, &edges), Some(vec![0, 3, 1, 2]));
        // Add 2 -> 0: the loop 0 -> 1 -> 2 -> 0, closed by edge 3.
        let looped = [(0, 1), (1, 2), (3, 1), (2, 0)];
        assert_eq!(cycles(4, &looped), vec![(vec![0, 1, 2], 3)]);
        assert_eq!(topological_order(4, &looped), None);

        let deps = vec![vec![], vec![0], vec![1, 0], vec![]];
        assert_eq!(depths(&deps), Some(vec![0, 1, 2, 0]));
        assert!(reaches(&deps, 2, 0) && !reaches(&deps, 0, 2));
        assert_eq!(depths(&[vec![1], vec![0]]), None);
        assert_eq!(depths(&[vec![0]]), None);
    }
}
