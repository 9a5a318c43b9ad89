import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown, safeUrl } from './Markdown';

const render = (source: string) => renderToStaticMarkup(<Markdown source={source} />);

describe('Markdown', () => {
  it('renders formatting', () => {
    expect(render('**bold** and `code`')).toBe('<p><strong>bold</strong> and <code>code</code></p>');
  });

  it('shows raw HTML as text instead of interpreting it', () => {
    const html = render('<img src=x onerror="window.__xss=1"> and <script>window.__xss=1</script>');
    expect(html).not.toMatch(/<img|<script/);
    expect(html).toContain('&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;');
    expect(html).toContain('&lt;script&gt;window.__xss=1&lt;/script&gt;');
  });

  it('shows a block of HTML as text too', () => {
    expect(render('<div onclick="x()">\nhi\n</div>')).not.toMatch(/<div/);
  });

  it('opens safe links in a new tab without an opener', () => {
    expect(render('[site](https://example.com)')).toBe(
      '<p><a href="https://example.com" target="_blank" rel="noopener noreferrer">site</a></p>',
    );
    expect(render('https://example.com/x')).toContain('href="https://example.com/x"');
  });

  it('drops links with other schemes', () => {
    const html = render('[click](javascript:alert(1)) [data](data:text/html,hi) [rel](/api/v1/me)');
    expect(html).not.toContain('href');
    expect(html).toContain('click');
  });

  it('does not load images: they become links', () => {
    const html = render('![cat](https://example.com/cat.png)');
    expect(html).not.toContain('<img');
    expect(html).toContain('<a href="https://example.com/cat.png"');
  });
});

describe('safeUrl', () => {
  it('allows only http, https and mailto', () => {
    expect(safeUrl('https://a.example')).toBe('https://a.example');
    expect(safeUrl('HTTP://a.example')).toBe('HTTP://a.example');
    expect(safeUrl('mailto:a@b.example')).toBe('mailto:a@b.example');
    expect(safeUrl('javascript:alert(1)')).toBe('');
    expect(safeUrl(' javascript:alert(1)')).toBe('');
    expect(safeUrl('vbscript:x')).toBe('');
    expect(safeUrl('//evil.example')).toBe('');
  });
});
