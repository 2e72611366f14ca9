/** Small clinical-note bodies in the formats DocumentReference attachments use. */

const XML_SPECIAL = /[<>&"]/;
function escapeXml(text: string): string {
  if (!XML_SPECIAL.test(text)) return text;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function paragraphs(lines: readonly string[], tag: string): string {
  let out = '';
  for (const line of lines) out += `<${tag}>${escapeXml(line)}</${tag}>`;
  return out;
}

/** A one-page PDF with the lines in Helvetica, with a correct cross-reference table. */
function pdf(title: string, lines: readonly string[]): string {
  const escapePdf = (s: string): string => s.replace(/[\\()]/g, (c) => `\\${c}`);
  let text = `BT /F1 14 Tf 72 740 Td (${escapePdf(title)}) Tj /F1 10 Tf`;
  for (const line of lines) text += ` 0 -16 Td (${escapePdf(line)}) Tj`;
  text += ' ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return body;
}

/** The note rendered as `contentType` (one of text/html, application/xhtml+xml, text/xml, text/plain, application/pdf). */
export function renderNote(contentType: string, title: string, lines: readonly string[]): string {
  switch (contentType) {
    case 'text/html':
      return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeXml(title)}</title></head><body><h1>${escapeXml(title)}</h1>${paragraphs(lines, 'p')}</body></html>`;
    case 'application/xhtml+xml':
      return `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>${escapeXml(title)}</title></head><body><h1>${escapeXml(title)}</h1>${paragraphs(lines, 'p')}</body></html>`;
    case 'text/xml':
      return `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>${escapeXml(title)}</title><component><section><text>${paragraphs(lines, 'paragraph')}</text></section></component></ClinicalDocument>`;
    case 'application/pdf':
      return pdf(title, lines);
    default:
      return `${title}\n\n${lines.join('\n')}\n`;
  }
}

/** Base64 of ASCII text (the generator only produces ASCII). */
export const base64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
