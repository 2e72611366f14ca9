import type { DashboardStats } from '../../../src/manage/views.js';
import { query } from '../api.js';
import { ErrorBox, fmtBytes, fmtNumber, useInterval, useResource } from '../components.js';

/** Resources exported per hour over the last day, as SVG bars with an axis; the table beside it says the same. */
function ThroughputChart({ series }: { series: DashboardStats['throughput'] }) {
  const width = 720;
  const height = 220;
  const left = 56;
  const bottom = 28;
  const max = Math.max(1, ...series.map((s) => s.resources));
  const barW = (width - left - 8) / Math.max(1, series.length);
  const y = (v: number) => height - bottom - (v / max) * (height - bottom - 12);
  const total = series.reduce((n, s) => n + s.resources, 0);
  return (
    <figure>
      <svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox={`0 0 ${width} ${height}`} width="100%">
        <title id="chart-title">Export throughput, resources per hour, last 24 hours</title>
        <desc id="chart-desc">{`${fmtNumber(total)} resources over 24 hours; the busiest hour exported ${fmtNumber(Math.max(0, ...series.map((s) => s.resources)))}.`}</desc>
        <line class="axis" x1={left} y1={height - bottom} x2={width} y2={height - bottom} />
        <line class="axis" x1={left} y1={8} x2={left} y2={height - bottom} />
        <text x={left - 6} y={y(max) + 4} text-anchor="end">
          {fmtNumber(max)}
        </text>
        <text x={left - 6} y={height - bottom + 4} text-anchor="end">
          0
        </text>
        {series.map((s, i) => (
          <g key={s.start}>
            <rect class="bar" x={left + i * barW + 1} y={y(s.resources)} width={Math.max(1, barW - 2)} height={height - bottom - y(s.resources)}>
              <title>{`${s.start.slice(11, 16)} UTC: ${fmtNumber(s.resources)} resources, ${fmtBytes(s.bytes)}`}</title>
            </rect>
            {i % 3 === 0 && (
              <text x={left + i * barW + barW / 2} y={height - 8} text-anchor="middle">
                {s.start.slice(11, 16)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <figcaption class="muted">Resources written by export jobs that finished in each hour (UTC).</figcaption>
    </figure>
  );
}

export function DashboardPage({ tenant }: { tenant: string }) {
  const { data, error, reload } = useResource<DashboardStats>(`/admin/stats${query({ tenant })}`);
  useInterval(reload, 5000, true);
  return (
    <section aria-labelledby="dash-figures">
      <h3 id="dash-figures">Last 24 hours</h3>
      <ErrorBox error={error} />
      {data && (
        <>
          <div class="cards">
            <div class="card">
              <div class="value">{fmtNumber(data.exportsRunning)}</div>
              <div class="label">exports running</div>
            </div>
            <div class="card">
              <div class="value">{fmtNumber(data.exportsFinished)}</div>
              <div class="label">exports finished</div>
            </div>
            <div class="card">
              <div class="value">{fmtNumber(data.exportsFailed)}</div>
              <div class="label">exports failed</div>
            </div>
            <div class="card">
              <div class="value">{fmtNumber(data.resourcesExported)}</div>
              <div class="label">resources exported ({fmtBytes(data.bytesExported)})</div>
            </div>
            <div class="card">
              <div class="value">{fmtNumber(data.failedAuthentications)}</div>
              <div class="label">failed authentications</div>
            </div>
          </div>
          <ThroughputChart series={data.throughput} />
        </>
      )}
    </section>
  );
}
