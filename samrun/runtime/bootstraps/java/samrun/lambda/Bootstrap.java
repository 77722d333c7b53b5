package samrun.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.PrintStream;
import java.io.UnsupportedEncodingException;
import java.lang.reflect.Field;

/**
 * samrun's Java runtime client: loads the handler `_HANDLER` names (the init phase), then asks
 * the Runtime API (AWS_LAMBDA_RUNTIME_API) for invocations and answers each, as Lambda's Java
 * runtime (aws-lambda-java-runtime-interface-client) does; plain Java 8, no libraries.
 */
public final class Bootstrap {
    private Bootstrap() {
    }

    private static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";

    public static void main(String[] args) throws Exception {
        String tmp = System.getenv("TMPDIR");
        if (tmp != null && !tmp.isEmpty()) {
            System.setProperty("java.io.tmpdir", tmp);  // Lambda's /tmp is the instance's TMPDIR here
        }
        System.setOut(utf8(FileDescriptor.out));
        System.setErr(utf8(FileDescriptor.err));
        LambdaLogger logger = new StdoutLogger();
        install(logger);
        String address = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (address == null || address.indexOf(':') < 0) {
            System.err.println("AWS_LAMBDA_RUNTIME_API is not set: samrun's Java runtime client runs under samrun");
            System.exit(1);
        }
        RuntimeApi api = new RuntimeApi(address);
        String handler = args.length > 0 ? args[0] : System.getenv("_HANDLER");
        Handlers.Invoker invoker;
        try {
            invoker = Handlers.load(handler, Bootstrap.class.getClassLoader());
        } catch (Fault fault) {
            logger.log(fault.reportable());
            api.failInit(fault.body());
            System.exit(1);
            return;
        } catch (Throwable t) {
            Fault fault = Fault.of(Fault.filter(t), true);
            logger.log(fault.reportable());
            api.failInit(fault.body());
            System.exit(1);
            return;
        }
        loop(api, invoker, logger);
    }

    private static void loop(RuntimeApi api, Handlers.Invoker invoker, LambdaLogger logger) throws Exception {
        while (true) {
            RuntimeApi.Invocation invocation = api.next();
            if (invocation.traceId != null) {
                System.setProperty(TRACE_PROPERTY, invocation.traceId);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            Context context = new LambdaContext(invocation, logger);
            byte[] response;
            try {
                response = invoker.call(invocation.payload, context);
            } catch (Fault fault) {
                flushStandardStreams();
                logger.log(fault.reportable());
                api.fail(invocation.requestId, fault.body());
                if (fault.fatal) {
                    System.exit(1);
                }
                continue;
            } catch (Throwable t) {
                Fault.filter(t);
                flushStandardStreams();
                logger.log(Fault.of(t, false).reportable());
                api.fail(invocation.requestId, Fault.body(t));
                if (t instanceof VirtualMachineError || t instanceof IOError) {
                    System.exit(1);
                }
                continue;
            }
            flushStandardStreams();
            api.respond(invocation.requestId, response);
            Thread.interrupted();  // a flag the function's code left set
        }
    }

    static void flushStandardStreams() {
        System.out.flush();
        System.err.flush();
    }

    private static PrintStream utf8(FileDescriptor descriptor) throws UnsupportedEncodingException {
        return new PrintStream(new FileOutputStream(descriptor), true, "UTF-8");
    }

    /** LambdaRuntime.getLogger() answers with the runtime's logger (whichever copy of
     * aws-lambda-java-core is on the classpath: the function's or samrun's). */
    private static void install(LambdaLogger logger) {
        try {
            Field field = LambdaRuntime.class.getDeclaredField("logger");
            field.setAccessible(true);
            field.set(null, logger);
        } catch (Throwable t) {
            System.err.println("LambdaRuntime.getLogger() keeps its default logger: " + t);
        }
    }
}
