/**
 * Just enough PromQL text handling for the observability tests: the metric names an expression reads, the
 * signals of an alert (its expression without the final threshold), and Grafana variable substitution.
 */

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric (or recording rule) names read by an expression. */
export function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)*'/g, "''");
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = s[m.index - 1] ?? ' ';
    if (/[0-9.$]/.test(before)) continue; // 1e3, 5m, $__interval
    if (s.slice(m.index + m[0].length).trimStart().startsWith('(')) continue; // a function
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Splits at top-level binary set operators (and, or, unless), outside parentheses, braces, brackets and strings. */
function splitTopLevel(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0 && /\s/.test(c)) {
      const m = /^\s+(and|or|unless)\s+/i.exec(expr.slice(i));
      if (m) {
        parts.push(expr.slice(start, i));
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts.map((p) => p.trim());
}

function stripOuterParens(expr: string): string {
  let e = expr.trim();
  while (e.startsWith('(') && e.endsWith(')')) {
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < e.length; i++) {
      if (e[i] === '(') depth++;
      else if (e[i] === ')') depth--;
      if (depth === 0 && i < e.length - 1) {
        closesAtEnd = false;
        break;
      }
    }
    if (!closesAtEnd) break;
    e = e.slice(1, -1).trim();
  }
  return e;
}

/**
 * The signals an alert compares: its expression split at and/or/unless, each part without its final
 * `<op> <number>`. `up{job="x"} == 0` -> ['up{job="x"}']; `(a > 1) and on (i) (b > 0)` -> ['a', 'b'].
 */
export function alertSignals(expr: string): string[] {
  const e = stripOuterParens(expr);
  const parts = splitTopLevel(e);
  if (parts.length > 1) return parts.flatMap((p) => alertSignals(p.replace(/^(on|ignoring)\s*\([^)]*\)\s*/, '').replace(/^group_(left|right)\s*(\([^)]*\))?\s*/, '')));
  const m = /^([\s\S]*?)\s*(==|!=|>=|<=|>|<)\s*(?:bool\s+)?-?[0-9][0-9.e+]*\s*$/.exec(e);
  return [stripOuterParens(m ? m[1]! : e)];
}

/** Replaces Grafana variables ($name, ${name}); throws on a variable without a value. */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** The variables an expression uses. */
export function variablesOf(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)].map((m) => (m[1] ?? m[2])!))];
}

/** `label_values(metric{...}, label)` (a Grafana variable query) as a PromQL query returning one series per value. */
export function labelValuesQuery(query: string): string {
  const m = /^label_values\((.*),\s*(\w+)\s*\)$/s.exec(query.trim());
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return `count by (${m[2]}) (${m[1]})`;
}

/** The range selectors ([...]) inside every rate(), irate() and increase() call of an expression. */
export function rateWindows(text: string): string[] {
  const expr = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const windows: string[] = [];
  for (const m of expr.matchAll(/\b(rate|irate|increase)\s*\(/g)) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < expr.length && depth > 0; i++) {
      if (expr[i] === '(') depth++;
      else if (expr[i] === ')') depth--;
    }
    for (const w of expr.slice(start, i).matchAll(/\[([^\]]*)\]/g)) windows.push(w[1]!);
  }
  return windows;
}
