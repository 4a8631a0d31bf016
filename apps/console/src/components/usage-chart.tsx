import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
  /** "y" (left axis, default) or "y2" (right axis, e.g. an error rate). */
  scale?: "y" | "y2";
}

/** A palette that stays apart on white, for series by account, key or model. */
export const chartColors = [
  "#2563eb",
  "#dc2626",
  "#16a34a",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#4b5563",
  "#65a30d",
  "#9333ea",
];

/**
 * A time chart (uPlot) of `series` over `timestamps` (epoch ms, the viewer's time zone). The canvas is an
 * image to assistive technology: `label` names it and the page's table carries the numbers.
 */
export function UsageChart({
  timestamps,
  series,
  label,
  height = 240,
  formatLeft,
  formatRight,
  formatTime,
}: {
  timestamps: number[];
  series: ChartSeries[];
  label: string;
  height?: number;
  formatLeft?: (value: number) => string;
  formatRight?: (value: number) => string;
  /** An x-axis tick (epoch ms) in the viewer's language; default uPlot's own. */
  formatTime?: (at: number) => string;
}) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const hasRight = series.some((line) => line.scale === "y2");
    const axisFont = "11px system-ui, sans-serif";
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_plot, _min, max) => [0, Math.max(1, max * 1.1)] },
        y2: { range: (_plot, _min, max) => [0, Math.max(0.01, max * 1.1)] },
      },
      axes: [
        {
          stroke: "#4b5563",
          font: axisFont,
          grid: { stroke: "#eef0f3" },
          ...(formatTime
            ? { values: (_plot: uPlot, ticks: number[]) => ticks.map((tick) => formatTime(tick * 1000)) }
            : {}),
        },
        {
          scale: "y",
          stroke: "#4b5563",
          font: axisFont,
          grid: { stroke: "#eef0f3" },
          size: 56,
          ...(formatLeft ? { values: (_plot: uPlot, ticks: number[]) => ticks.map(formatLeft) } : {}),
        },
        ...(hasRight
          ? [
              {
                scale: "y2",
                side: 1 as const,
                stroke: "#4b5563",
                font: axisFont,
                grid: { show: false },
                size: 56,
                ...(formatRight ? { values: (_plot: uPlot, ticks: number[]) => ticks.map(formatRight) } : {}),
              },
            ]
          : []),
      ],
      series: [
        {},
        ...series.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 1.5,
          scale: line.scale ?? "y",
          points: { show: false },
        })),
      ],
    };
    const data: uPlot.AlignedData = [timestamps.map((at) => at / 1000), ...series.map((line) => line.values)];
    const plot = new uPlot(options, data, element);
    const observer = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(200, element.clientWidth), height }),
    );
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [timestamps, series, height, formatLeft, formatRight, formatTime]);
  return (
    <figure className="chart">
      <div ref={container} role="img" aria-label={label} className="chart-canvas" />
      <figcaption className="chart-legend">
        {series.map((line) => (
          <span key={line.label} className="legend-item">
            <span className="legend-swatch" style={{ background: line.color }} aria-hidden="true" />
            {line.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
