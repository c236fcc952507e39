/**
 * generate_image's `references` (DESIGN.md §3 "MCP") mapped onto POST /api/generate's fields as
 * the API defines them: a stored image id (`<jobId>.<index>`, as a job's `request` names its
 * uploaded references) → `referenceImageIds`; a URL → `images` (the API takes https URLs only);
 * anything else is a job's taskId (ours, or KIE's once it has the task: 32 hex digits) → the
 * user's own result as `sourceTaskId`, of which the API takes one.
 * Ownership, the limit of 5 and whether an image is still stored are the API's to answer.
 */
const STORED_IMAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[0-9]$/i;
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

export interface ReferenceFields {
  images?: string[];
  referenceImageIds?: string[];
  sourceTaskId?: string;
}

export type Mapped = { ok: true; fields: ReferenceFields } | { ok: false; message: string };

export function referenceFields(references: readonly string[], sourceTaskId?: string): Mapped {
  const images: string[] = [];
  const referenceImageIds: string[] = [];
  // sourceTaskId first: the API puts the edited job's image before the others.
  const taskIds = sourceTaskId ? [sourceTaskId] : [];
  for (const raw of references) {
    const reference = raw.trim();
    if (URL_SCHEME.test(reference)) images.push(reference);
    else if (STORED_IMAGE_ID.test(reference)) referenceImageIds.push(reference.toLowerCase());
    else taskIds.push(reference);
  }
  const distinct = [...new Set(taskIds)];
  if (distinct.length > 1) {
    // The API edits one job's result (sourceTaskId); it has no field for a second.
    return {
      ok: false,
      message:
        "At most one job's result (a taskId) per request. Name your other images by their stored ids " +
        "(referenceImageIds in list_generations) or https URLs.",
    };
  }
  return {
    ok: true,
    fields: {
      ...(images.length > 0 && { images }),
      ...(referenceImageIds.length > 0 && { referenceImageIds }),
      ...(distinct[0] && { sourceTaskId: distinct[0] }),
    },
  };
}
