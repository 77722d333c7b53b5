// ALB target: echoes the path and query string; multi-value headers are on for this group.
export const handler = async (event) => ({
  statusCode: 200,
  statusDescription: "200 OK",
  multiValueHeaders: { "content-type": ["application/json"] },
  body: JSON.stringify({
    path: event.path,
    query: event.multiValueQueryStringParameters ?? {},
  }),
});
