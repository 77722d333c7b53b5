package samrun.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * context.getLogger() and LambdaRuntime.getLogger(): each message written to stdout as is, as
 * Lambda's runtime writes it where it has no telemetry descriptor (no newline added).
 */
final class StdoutLogger implements LambdaLogger {
    private final OutputStream out = new FileOutputStream(FileDescriptor.out);

    public void log(String message) {
        log(message == null ? "null".getBytes(StandardCharsets.UTF_8) : message.getBytes(StandardCharsets.UTF_8));
    }

    public void log(byte[] message) {
        if (message == null) {
            return;
        }
        Bootstrap.flushStandardStreams();  // keep the order of System.out and the logger
        synchronized (this) {
            try {
                out.write(message);
                out.flush();
            } catch (IOException e) {
                // stdout is gone: nothing to log to
            }
        }
    }
}
