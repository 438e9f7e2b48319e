// Renders a digest chart to PNG in this process (Chart.js on @napi-rs/canvas), for workspaces whose data must not
// leave their network. The fonts ship in assets/fonts, so it renders the same on a bare machine without system fonts.
import { fileURLToPath } from 'node:url';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { Chart, registerables, type Plugin } from 'chart.js';
import { CHART_COLORS, CHART_FONT_FAMILY, CHART_PIXEL_RATIO, type FunnelChart } from './charts.js';

const FONT_DIR = new URL('../assets/fonts/', import.meta.url);
let prepared = false;

/** Registers Chart.js's parts and the bundled fonts once per process. */
function prepare(): void {
  if (prepared) return;
  Chart.register(...registerables);
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    if (!GlobalFonts.registerFromPath(fileURLToPath(new URL(file, FONT_DIR)), 'DejaVu Sans')) {
      throw new Error(`could not load the chart font ${file} from assets/fonts`);
    }
  }
  Chart.defaults.font.family = CHART_FONT_FAMILY;
  prepared = true;
}

/** Chart.js leaves the canvas transparent, which reads as black-on-black in Slack's dark theme. */
const whiteBackground: Plugin<'bar'> = {
  id: 'white-background',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = CHART_COLORS.background;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** The chart as PNG bytes, width × height CSS pixels at CHART_PIXEL_RATIO. */
export function renderChartPng(chart: FunnelChart): Buffer {
  prepare();
  // Created at CSS size: Chart.js itself scales the canvas by devicePixelRatio.
  const canvas = createCanvas(chart.width, chart.height);
  const config = {
    ...chart.config,
    options: { ...chart.config.options, devicePixelRatio: CHART_PIXEL_RATIO },
    plugins: [whiteBackground],
  };
  // Chart.js accepts any object with getContext('2d'); without a DOM it uses its basic platform, which only needs that.
  const instance = new Chart(canvas as unknown as ConstructorParameters<typeof Chart<'bar', number[], string[]>>[0], config);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    instance.destroy();
  }
}
