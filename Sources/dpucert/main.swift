print("dpucert")
