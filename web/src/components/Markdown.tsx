// Message bodies are Markdown source from other people. They are rendered
// without ever interpreting HTML: raw HTML in the source is shown as the text
// it is, and links may only point to http, https or mailto.

import type { ComponentProps } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';

interface MdastNode {
  type: string;
  children?: MdastNode[];
}

/** Turns raw HTML nodes into plain text nodes (both carry `value`). */
function remarkHtmlAsText() {
  const walk = (node: MdastNode) => {
    if (node.type === 'html') node.type = 'text';
    node.children?.forEach(walk);
  };
  return walk;
}

const SAFE_URL = /^(https?:|mailto:)/i;

/** The URL when it uses an allowed scheme, otherwise an empty string. */
export function safeUrl(url: string): string {
  return SAFE_URL.test(url.trim()) ? url : '';
}

function Link({ href, children }: ComponentProps<'a'>) {
  if (!href) return <span>{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** Images from strangers' messages are not loaded (tracking): linked instead. */
function ImageLink({ src, alt }: ComponentProps<'img'>) {
  const href = typeof src === 'string' ? src : '';
  return <Link href={href}>{alt || href}</Link>;
}

const components: Components = { a: Link, img: ImageLink };

export function Markdown({ source }: { source: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm, remarkHtmlAsText]}
      components={components}
      urlTransform={safeUrl}
    >
      {source}
    </ReactMarkdown>
  );
}
