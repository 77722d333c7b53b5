package samrun.lambda;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An error as Lambda's Java runtime reports it: {"errorMessage", "errorType", "stackTrace"} with
 * the runtime's own frames cut from the trace, and the text it logs ("message: type", then the
 * stack trace). A fault of the function's setup (a handler that cannot load) has no stackTrace;
 * a fatal one ends the instance (at init: /init/error, and INIT_REPORT).
 */
final class Fault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    static final String OURS = "samrun.lambda.";

    final String msg;
    final String type;
    final String trace;
    final boolean fatal;

    Fault(String msg, String type, String trace, boolean fatal) {
        super(msg);
        this.msg = msg;
        this.type = type;
        this.trace = trace;
        this.fatal = fatal;
    }

    static Fault of(String msg) {
        return new Fault(msg, null, null, false);
    }

    static Fault of(Throwable t, boolean fatal) {
        return new Fault(message(t), t.getClass().getName(), trace(t), fatal);
    }

    static String message(Throwable t) {
        return t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
    }

    byte[] body() {
        Map<String, Object> body = new LinkedHashMap<String, Object>();
        body.put("errorMessage", msg);
        if (type != null) {
            body.put("errorType", type);
        }
        return Json.write(body);
    }

    String reportable() {
        if (type != null || trace != null) {
            return msg + ": " + (type == null ? "" : type) + "\n" + (trace == null ? "" : trace) + "\n";
        }
        return msg + "\n";
    }

    /** The error body of a throwable the function threw. */
    static byte[] body(Throwable t) {
        Map<String, Object> body = new LinkedHashMap<String, Object>();
        body.put("errorMessage", message(t));
        body.put("errorType", t.getClass().getName());
        List<Object> frames = new ArrayList<Object>();
        for (StackTraceElement frame : t.getStackTrace()) {
            frames.add(frame.toString());
        }
        body.put("stackTrace", frames);
        return Json.write(body);
    }

    static String trace(Throwable t) {
        filter(t);
        StringWriter text = new StringWriter();
        t.printStackTrace(new PrintWriter(text));
        return text.toString();
    }

    /** Cut each trace (causes and suppressed ones too) at the runtime client's first frame. */
    static <T extends Throwable> T filter(T t) {
        filter(t, Collections.newSetFromMap(new IdentityHashMap<Throwable, Boolean>()));
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] frames = t.getStackTrace();
        for (int i = 0; i < frames.length; i++) {
            if (frames[i].getClassName().startsWith(OURS)) {
                StackTraceElement[] kept = new StackTraceElement[i];
                System.arraycopy(frames, 0, kept, 0, i);
                t.setStackTrace(kept);
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable suppressed : t.getSuppressed()) {
            filter(suppressed, seen);
        }
    }
}
