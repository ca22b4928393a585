service_instance :vm, :vm
