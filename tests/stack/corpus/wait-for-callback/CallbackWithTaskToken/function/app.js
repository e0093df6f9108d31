// Stand-in written for Stepwell's tests (the published function is not copied): for each
// SQS message it sends the task token back with SendTaskSuccess, as the sample describes.
const { SFNClient, SendTaskSuccessCommand } = require("@aws-sdk/client-sfn");

exports.lambdaHandler = async (event) => {
  const client = new SFNClient({});
  for (const record of event.Records) {
    const body = JSON.parse(record.body);
    await client.send(new SendTaskSuccessCommand({ taskToken: body.TaskToken, output: "{}" }));
  }
};
