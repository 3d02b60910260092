// Shims for what TypeScript cannot type by itself. Each block is for one
// import; add yours without touching the others'.

// Fluent message files, bundled as text by esbuild (`--loader:.ftl=text`).
declare module "*.ftl" {
  const text: string;
  export default text;
}

// qrcode (no types of its own): the SVG renderer of its browser build.
declare module "qrcode" {
  export interface QRCodeToStringOptions {
    type?: "svg";
    margin?: number;
    width?: number;
    errorCorrectionLevel?: "L" | "M" | "Q" | "H";
    color?: { dark?: string; light?: string };
  }
  export function toString(text: string, options?: QRCodeToStringOptions): Promise<string>;
  const QRCode: { toString: typeof toString };
  export default QRCode;
}
