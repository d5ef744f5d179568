// Draws the report's charts in the browser from the JSON payload the generator inlined beside ECharts.
// Plain ES2020 with no imports, because it runs from a file:// page with nothing else loaded. Animation is
// off so a printed or screenshotted report always shows finished charts.
(() => {
  const data = JSON.parse(document.getElementById('iip-report-data').textContent);
  const TIER_COLORS = ['#d1495b', '#edae49', '#00798c', '#8d99ae'];
  const LINE_COLORS = ['#1f6feb', '#d9480f', '#2f9e44', '#ae3ec9', '#f59f00', '#0c8599', '#e64980'];
  let lang = data.lang;
  const charts = {};

  const tx = (key) => data.text[key][lang];
  const name = (id) => (data.names[id] ? data.names[id][lang] : id);
  const tierName = (i) => (data.tierNames[i] ? data.tierNames[i][lang] : String(i + 1));
  const tierColor = (i) => TIER_COLORS[i % TIER_COLORS.length];
  const round = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? Number(v.toFixed(d)) : v);
  const byRank = data.scores.slice().sort((a, b) => a.rank - b.rank);
  const base = { animation: false, textStyle: { fontFamily: 'system-ui, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif' } };

  function lineOption(ids) {
    return Object.assign({}, base, {
      color: LINE_COLORS,
      tooltip: { trigger: 'axis', valueFormatter: (v) => round(v, 2) },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 48, right: 24, top: 56, bottom: 32 },
      xAxis: { type: 'category', data: data.years.map(String), boundaryGap: false },
      yAxis: { type: 'value', scale: true, name: `${data.baseYear} = 100` },
      series: ids
        .filter((id) => data.national[id])
        .map((id) => ({ type: 'line', name: name(id), data: data.national[id].map((v) => round(v, 2)), symbolSize: 7, lineStyle: { width: 3 } })),
    });
  }

  const builders = {
    national: () => {
      const o = lineOption(['overall']);
      o.legend = { show: false };
      o.series[0].areaStyle = { opacity: 0.15 };
      o.series[0].label = { show: true, position: 'top', formatter: (p) => round(p.value, 1) };
      return o;
    },
    subindex: () => lineOption(data.firstLevel),
    ranking: () => {
      const rows = byRank.slice().reverse();
      return Object.assign({}, base, {
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => round(v, 3) },
        grid: { left: 72, right: 48, top: 10, bottom: 24 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', data: rows.map((s) => s.region), axisLabel: { interval: 0, fontSize: 11 } },
        series: [
          {
            type: 'bar',
            name: tx('scoreCol'),
            data: rows.map((s) => ({ value: round(s.overall, 4), itemStyle: { color: '#1f6feb' } })),
            label: { show: true, position: 'right', fontSize: 10, formatter: (p) => round(p.value, 2) },
          },
        ],
      });
    },
    radar: () => {
      const select = document.getElementById('radar-region');
      const region = select?.value || byRank[0]?.region;
      const row = data.scores.find((s) => s.region === region);
      const max = {};
      const avg = {};
      for (const id of data.firstLevel) {
        const vals = data.scores.map((s) => s.byIndicator[id]).filter((v) => typeof v === 'number');
        max[id] = Math.max.apply(null, vals.concat([0])) || 1;
        avg[id] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
      }
      return Object.assign({}, base, {
        color: ['#d9480f', '#8d99ae'],
        tooltip: {},
        legend: { bottom: 0 },
        radar: { indicator: data.firstLevel.map((id) => ({ name: name(id), max: round(max[id] * 1.05, 4) })), radius: '62%' },
        series: [
          {
            type: 'radar',
            data: [
              { name: region || '', value: data.firstLevel.map((id) => round(row ? row.byIndicator[id] : null, 4)), areaStyle: { opacity: 0.3 } },
              { name: tx('average'), value: data.firstLevel.map((id) => round(avg[id], 4)), lineStyle: { type: 'dashed' } },
            ],
          },
        ],
      });
    },
    tiers: () => {
      const series = data.tierNames.map((_, i) => ({
        type: 'scatter',
        name: tierName(i),
        itemStyle: { color: tierColor(i) },
        symbolSize: 12,
        data: byRank.filter((s) => s.tier === i).map((s) => ({ value: [s.rank, round(s.overall, 4)], name: s.region })),
        label: { show: true, position: 'right', fontSize: 10, formatter: (p) => p.name },
      }));
      if (series[0]) {
        series[0].markLine = {
          silent: true,
          symbol: 'none',
          lineStyle: { type: 'dashed', color: '#656d76' },
          label: { formatter: (p) => round(p.value, 3) },
          data: data.breaks.filter((b) => typeof b === 'number' && Number.isFinite(b)).map((b) => ({ yAxis: b })),
        };
      }
      return Object.assign({}, base, {
        tooltip: { formatter: (p) => `${p.name}<br>${p.seriesName}<br>${tx('rankCol')}: ${p.value[0]} · ${tx('scoreCol')}: ${p.value[1]}` },
        legend: { top: 0 },
        grid: { left: 56, right: 56, top: 40, bottom: 40 },
        xAxis: { type: 'value', name: tx('rankCol'), min: 0, max: byRank.length + 1, inverse: false, minInterval: 1 },
        yAxis: { type: 'value', name: tx('scoreCol'), scale: true },
        series,
      });
    },
    uncertainty: () => {
      if (!data.uncertainty) return null;
      const rows = data.uncertainty.ranks.slice().sort((a, b) => b.median - a.median || b.p5 - a.p5);
      const tierOf = {};
      for (const s of data.scores) tierOf[s.region] = s.tier;
      return Object.assign({}, base, {
        tooltip: {
          trigger: 'axis',
          axisPointer: { type: 'shadow' },
          formatter: (ps) => {
            const r = rows[ps[0].dataIndex];
            return `${r.region}<br>median ${r.median} · p5–p95 ${r.p5}–${r.p95} · min–max ${r.min}–${r.max}<br>${data.uncertainty.runs} runs`;
          },
        },
        grid: { left: 72, right: 24, top: 10, bottom: 32 },
        xAxis: { type: 'value', min: 0, max: data.scores.length + 1, name: tx('rankCol'), nameLocation: 'middle', nameGap: 22 },
        yAxis: { type: 'category', data: rows.map((r) => r.region), axisLabel: { interval: 0, fontSize: 11 } },
        series: [
          { type: 'bar', stack: 'r', silent: true, itemStyle: { color: 'transparent' }, data: rows.map((r) => r.p5), barWidth: 8 },
          {
            type: 'bar',
            stack: 'r',
            name: 'p5–p95',
            data: rows.map((r) => ({ value: Math.max(r.p95 - r.p5, 0.15), itemStyle: { color: tierColor(tierOf[r.region] == null ? 3 : tierOf[r.region]), opacity: 0.55 } })),
            barWidth: 8,
          },
          { type: 'scatter', name: tx('median'), data: rows.map((r) => r.median), symbolSize: 9, itemStyle: { color: '#1f2328' }, z: 5 },
        ],
      });
    },
  };

  function draw(id) {
    const el = document.getElementById(`chart-${id}`);
    if (!el || !builders[id]) return;
    const option = builders[id]();
    if (!option) return;
    if (!charts[id]) charts[id] = echarts.init(el, null, { renderer: 'canvas' });
    charts[id].setOption(option, true);
  }

  function drawAll() {
    for (const id of Object.keys(builders)) draw(id);
  }

  function setLang(next) {
    lang = next;
    document.documentElement.className = `lang-${lang}`;
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    drawAll();
  }

  const sw = document.getElementById('lang-switch');
  if (sw) sw.addEventListener('click', () => setLang(lang === 'zh' ? 'en' : 'zh'));
  const select = document.getElementById('radar-region');
  if (select) select.addEventListener('change', () => draw('radar'));
  window.addEventListener('resize', () => {
    for (const c of Object.values(charts)) c.resize();
  });
  drawAll();
  // A hook for tests and for embedding pages: which charts exist, and a way to switch language.
  window.__iipReport = { charts, setLang, ready: true };
})();
