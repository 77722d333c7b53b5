// A Node.js durable workflow for samrun's tests, written as the SDK's documentation shows it.
const { withDurableExecution } = require("@aws/durable-execution-sdk-js");

exports.waiter = withDurableExecution(async (event, context) => {
  const name = (event && event.name) || "world";
  const greeting = await context.step("greet", async () => `hello ${name}`);
  await context.wait("pause", { seconds: Number((event && event.seconds) || 10) });
  const shout = await context.step("shout", async () => greeting.toUpperCase());
  return { greeting, shout };
});
