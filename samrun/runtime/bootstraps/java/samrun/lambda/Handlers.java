package samrun.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The handler `_HANDLER` names, loaded in the init phase as Lambda's Java runtime loads it:
 * `package.Class::method` (the public method of that name whose signature fits, longer ones
 * first, one ending with Context counting one more), or `package.Class` implementing
 * RequestStreamHandler or RequestHandler<I, O>; an instance method's class is constructed once,
 * here. A handler that cannot load fails each invocation, or, when its class's initialiser or
 * constructor threw, the init phase.
 */
final class Handlers {
    private Handlers() {
    }

    /** One loaded handler: the payload in, the response bytes out. */
    interface Invoker {
        byte[] call(byte[] payload, Context context) throws Throwable;
    }

    private static final byte[] NULL = "null".getBytes(StandardCharsets.UTF_8);

    static Invoker failing(final Fault fault) {
        return new Invoker() {
            public byte[] call(byte[] payload, Context context) {
                throw fault;
            }
        };
    }

    /** The handler, or a fatal Fault (reported as the init error). */
    static Invoker load(String handler, ClassLoader loader) {
        String className;
        String methodName = null;
        if (handler == null) {
            handler = "";
        }
        int colons = handler.indexOf("::");
        if (colons >= 0) {
            className = handler.substring(0, colons).trim();
            methodName = handler.substring(colons + 2).trim();
            if (methodName.isEmpty()) {
                methodName = "";
            }
        } else {
            className = handler.trim();
        }
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return failing(Fault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> clazz;
        try {
            clazz = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return failing(new Fault("Class not found: " + className, e.getClass().getName(), Fault.trace(e), false));
        } catch (NoClassDefFoundError e) {
            return failing(new Fault("Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                    e.getClass().getName(), Fault.trace(e), false));
        } catch (Throwable t) {
            throw new Fault("Error loading class " + className + (t.getMessage() == null ? "" : ": " + t.getMessage()),
                    t.getClass().getName(), Fault.trace(t), true);
        }
        Invoker invoker;
        try {
            invoker = methodName == null ? forClass(clazz) : forMethod(clazz, methodName);
        } catch (Fault fault) {
            if (fault.fatal) {
                throw fault;
            }
            return failing(fault);
        }
        return invoker;
    }

    // -- Class: RequestStreamHandler, RequestHandler<I, O> ----------------------------------------

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Invoker forClass(Class<?> clazz) {
        if (RequestStreamHandler.class.isAssignableFrom(clazz)) {
            final RequestStreamHandler handler = (RequestStreamHandler) construct(clazz);
            return new Invoker() {
                public byte[] call(byte[] payload, Context context) throws Throwable {
                    ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
                    handler.handleRequest(new ByteArrayInputStream(payload), out, context);
                    return out.toByteArray();
                }
            };
        }
        if (!RequestHandler.class.isAssignableFrom(clazz)) {
            throw Fault.of("Class does not implement an appropriate handler interface: " + clazz.getName());
        }
        Type[] types = interfaceArguments(clazz, RequestHandler.class);
        if (types == null) {
            throw Fault.of("Class " + clazz.getName() + " does not implement RequestHandler with concrete type parameters");
        }
        for (Type t : types) {
            if (t instanceof TypeVariable && Binder.rawClass(t) == Object.class) {
                throw Fault.of("Class " + clazz.getName()
                        + " does not implement RequestHandler with concrete type parameters: parameter " + t + " has no upper bound.");
            }
        }
        final RequestHandler handler = (RequestHandler) construct(clazz);
        final Type input = types[0];
        final Type output = types[1];
        return new Invoker() {
            public byte[] call(byte[] payload, Context context) throws Throwable {
                Object event = input(payload, input);
                Object result;
                try {
                    result = handler.handleRequest(event, context);
                } catch (Throwable t) {
                    throw Fault.filter(t);
                }
                return output(result, output);
            }
        };
    }

    /** The type arguments `clazz` gives `iface`, searched breadth-first as Lambda does. */
    static Type[] interfaceArguments(Class<?> clazz, Class<?> iface) {
        List<Type> queue = new ArrayList<Type>();
        List<Map<TypeVariable<?>, Type>> contexts = new ArrayList<Map<TypeVariable<?>, Type>>();
        queue.add(clazz);
        contexts.add(new HashMap<TypeVariable<?>, Type>());
        while (!queue.isEmpty()) {
            Type current = queue.remove(0);
            Map<TypeVariable<?>, Type> bindings = Binder.bindings(current, contexts.remove(0));
            Class<?> raw = Binder.rawClass(current);
            for (Type candidate : raw.getGenericInterfaces()) {
                Class<?> candidateRaw = Binder.rawClass(candidate);
                if (candidate instanceof ParameterizedType && iface.isAssignableFrom(candidateRaw)) {
                    if (candidateRaw == iface) {
                        Type[] arguments = ((ParameterizedType) candidate).getActualTypeArguments().clone();
                        for (int i = 0; i < arguments.length; i++) {
                            arguments[i] = Binder.resolve(arguments[i], bindings);
                        }
                        return arguments;
                    }
                }
                queue.add(Binder.resolve(candidate, bindings));
                contexts.add(bindings);
            }
            Type parent = raw.getGenericSuperclass();
            if (parent != null && parent != Object.class) {
                queue.add(Binder.resolve(parent, bindings));
                contexts.add(bindings);
            }
        }
        return null;
    }

    // -- Class::method --------------------------------------------------------------------------

    private static final Comparator<Method> PRIORITY = new Comparator<Method>() {
        public int compare(Method left, Method right) {
            if (left.isBridge() != right.isBridge()) {
                return left.isBridge() ? 1 : -1;
            }
            return -Integer.compare(weight(left), weight(right));
        }

        private int weight(Method m) {
            Class<?>[] params = m.getParameterTypes();
            return params.length + (params.length > 0 && params[params.length - 1] == Context.class ? 1 : 0);
        }
    };

    private static Invoker forMethod(Class<?> clazz, String name) {
        Method[] all = clazz.getMethods();
        List<Method> methods = new ArrayList<Method>();
        for (Method m : all) {
            if (m.getName().equals(name)) {
                methods.add(m);
            }
        }
        Method[] sorted = methods.toArray(new Method[0]);
        Arrays.sort(sorted, PRIORITY);
        for (Method m : sorted) {
            Invoker invoker = forOverload(clazz, m);
            if (invoker != null) {
                return invoker;
            }
        }
        throw Fault.of("No public method named " + name + " with appropriate method signature found on class " + clazz.getName());
    }

    private static Invoker forOverload(Class<?> clazz, Method m) {
        Type[] p = m.getGenericParameterTypes();
        Type r = m.getGenericReturnType();
        if (p.length == 0) {
            return pojo(clazz, m, null, r, false);
        }
        if (p.length == 1) {
            if (p[0] == InputStream.class) {
                return stream(clazz, m, true, false, false);
            }
            if (p[0] == OutputStream.class) {
                return stream(clazz, m, false, true, false);
            }
            if (p[0] == Context.class) {
                return pojo(clazz, m, null, r, true);
            }
            return pojo(clazz, m, p[0], r, false);
        }
        if (p.length == 2) {
            if (p[0] == OutputStream.class) {
                return p[1] == Context.class ? stream(clazz, m, false, true, true) : ignored(
                        "Ignoring two-argument overload because first argument type is OutputStream and second argument type is not Context");
            }
            if (p[0] == Context.class) {
                return ignored("Ignoring two-argument overload because first argument type is Context");
            }
            if (p[0] == InputStream.class) {
                if (p[1] == OutputStream.class) {
                    return stream(clazz, m, true, true, false);
                }
                if (p[1] == Context.class) {
                    return stream(clazz, m, true, false, true);
                }
                return ignored("Ignoring two-argument overload because second parameter type, "
                        + Binder.rawClass(p[1]).getName() + ", is not OutputStream.");
            }
            if (p[1] == Context.class) {
                return pojo(clazz, m, p[0], r, true);
            }
            return ignored("Ignoring two-argument overload because second parameter type is not Context");
        }
        if (p.length == 3) {
            if (p[0] == InputStream.class && p[1] == OutputStream.class && p[2] == Context.class) {
                return stream(clazz, m, true, true, true);
            }
            return ignored("Ignoring three-argument overload because argument signature is not (InputStream, OutputStream, Context");
        }
        return ignored("Ignoring an overload of method " + m.getName()
                + " because it has too many parameters: Expected at most 3, got " + p.length);
    }

    private static Invoker ignored(String why) {
        System.err.println(why);
        return null;
    }

    private static Object instanceFor(Class<?> clazz, Method m) {
        return Modifier.isStatic(m.getModifiers()) ? null : construct(clazz);
    }

    private static Invoker pojo(Class<?> clazz, final Method m, final Type input, final Type output, final boolean context) {
        final Object instance = instanceFor(clazz, m);
        access(m);
        return new Invoker() {
            public byte[] call(byte[] payload, Context ctx) throws Throwable {
                Object event = input == null ? null : input(payload, input);
                List<Object> args = new ArrayList<Object>(2);
                if (input != null) {
                    args.add(event);
                }
                if (context) {
                    args.add(ctx);
                }
                return output(invoke(m, instance, args.toArray()), output);
            }
        };
    }

    private static Invoker stream(Class<?> clazz, final Method m, final boolean in, final boolean out, final boolean context) {
        final Object instance = instanceFor(clazz, m);
        access(m);
        return new Invoker() {
            public byte[] call(byte[] payload, Context ctx) throws Throwable {
                ByteArrayOutputStream output = new ByteArrayOutputStream(1024);
                List<Object> args = new ArrayList<Object>(3);
                if (in) {
                    args.add(new ByteArrayInputStream(payload));
                }
                if (out) {
                    args.add(output);
                }
                if (context) {
                    args.add(ctx);
                }
                invoke(m, instance, args.toArray());
                return output.toByteArray();
            }
        };
    }

    private static void access(Method m) {
        if (!Modifier.isPublic(m.getDeclaringClass().getModifiers())) {
            try {
                m.setAccessible(true);
            } catch (RuntimeException e) {
                // invoked as it is: Java says why not, at the invocation
            }
        }
    }

    private static Object invoke(Method m, Object instance, Object[] args) throws Throwable {
        try {
            return m.invoke(instance, args);
        } catch (InvocationTargetException e) {
            throw Fault.filter(e.getCause() != null ? e.getCause() : e);
        } catch (Throwable t) {
            throw Fault.filter(t);
        }
    }

    // -- construction and (de)serialisation ------------------------------------------------------------

    /** The handler's class constructed once, at init: a constructor that throws fails the init. */
    static Object construct(Class<?> clazz) {
        Constructor<?> constructor;
        try {
            constructor = clazz.getConstructor();
        } catch (NoSuchMethodException e) {
            String why = clazz.getEnclosingClass() != null && !Modifier.isStatic(clazz.getModifiers())
                    ? "Class " + clazz.getName() + " cannot be instantiated because it is a non-static inner class"
                    : "Class " + clazz.getName() + " has no public zero-argument constructor";
            throw Fault.of(new Exception(why, e), false);
        }
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw Fault.of(Fault.filter(cause), true);
        } catch (Throwable t) {
            throw Fault.of(Fault.filter(t), false);
        }
    }

    static Object input(byte[] payload, Type type) {
        try {
            String text = new String(payload, StandardCharsets.UTF_8);
            if (text.trim().isEmpty()) {
                return Binder.read(null, type);
            }
            return Binder.read(Json.parse(text), type);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON parsing", Fault.filter(t));
        }
    }

    static byte[] output(Object result, Type type) {
        if (type == void.class || type == Void.class) {
            return NULL;
        }
        try {
            return Json.write(Binder.write(result));
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON serialization of response", t);
        }
    }
}
