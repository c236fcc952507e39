/**
 * Shown only with JavaScript off: the studio sends prompts and shows images as they are made from
 * the browser — say so instead of a form that silently reloads the page.
 */
export function NoScriptNotice() {
  return (
    <noscript>
      <p className="rounded-lg border border-destructive/50 px-3 py-2 text-sm">
        The studio needs JavaScript to send your prompt and show the image as it is made. Turn JavaScript on
        for this site, then reload the page.
      </p>
    </noscript>
  );
}
